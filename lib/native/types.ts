/**
 * The native addon's surface, as the TypeScript layer sees it. Users never touch it directly.
 * Calling convention (docs/CONTRIBUTING.md): every native function takes ONE object of named inputs
 * (tensors, numbers, strings, and `async?: boolean` for kernels), checked once, in the binding.
 */
import type { RangeLimit } from '../internal/validate';

export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
  copyTo(args: { target: Float32Array | Int32Array | Uint8Array }): void;
  toDevice(args: { device: 'cpu' | 'cuda' }): NativeTensor;
  byteLength(): number;
}

export interface NativeTensorClass {
  fromTypedArray(args: {
    data: Float32Array | Int32Array | Uint8Array | Uint16Array;
    shape: number[];
    dtype: string;
    device: string;
  }): NativeTensor;
}

/**
 * The range of a numeric input, as the kernel's header states it (native/core/limits.h). The binding
 * rejects a value outside it with the RangeError `${name} must be ${text}, got ${value}`.
 */
export type NativeLimit = RangeLimit;

export interface NativeBackendInfo {
  cpu: { threads: number };
  cuda: {
    compiled: boolean;
    usable: boolean;
    reason?: string;
    architectures?: string;
    runtimeVersion?: number;
    driverVersion?: number;
    name?: string;
    totalMemory?: number;
    freeMemory?: number;
    computeCapability?: string;
    multiprocessors?: number;
  };
}

/** The CPU matrix products' engine (native/model/ops/matmul/matmul.h). */
export interface CpuGemmReport {
  /** 'builtin' (the project's own GEMM, the default) or 'openblas' (loaded at run time, when asked for). */
  engine: 'builtin' | 'openblas';
  /** The built-in GEMM's micro-kernel in use: 'avx512', 'avx2' or 'generic' (portable). */
  kernel: string;
  /** The fastest micro-kernel this CPU runs (the default). */
  bestKernel: string;
  /** Every micro-kernel this CPU runs. */
  kernels: string[];
  /** Whether a libopenblas could be loaded (never needed; it is an option). */
  openblas: { available: boolean; path?: string; reason?: string };
  /** An SR_GEMM / SR_GEMM_KERNEL environment setting that was not followed, and why. */
  note?: string;
}

/** Each kernel binding adds its functions; they are declared next to their TypeScript wrappers. */
export interface NativeAddon {
  NativeTensor: NativeTensorClass;
  backendInfo(): NativeBackendInfo;
  synchronize(): void;
  cpuGemmInfo(): CpuGemmReport;
  setCpuGemm(options: { engine: string; kernel: string }): void;
  registeredBindings: string[];
  /** limits[function][input]: the numeric ranges each binding checks. */
  limits: Record<string, Record<string, NativeLimit>>;
  [kernel: string]: unknown;
}
