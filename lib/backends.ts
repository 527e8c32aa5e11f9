/** What the native core was built with and what can run now; the device choice is made here. */
import { shown } from './internal/validate';
import { loadNative } from './native/loader';
import type { CpuGemmReport } from './native/types';

export type { CpuGemmReport } from './native/types';

export type Device = 'cpu' | 'cuda';
export type DeviceChoice = Device | 'auto';

export interface BackendReport {
  cpu: {
    available: true;
    threads: number;
    /** The engine of the built-in model's CPU matrix products (see setCpuGemm). */
    gemm: CpuGemmReport;
  };
  cuda: {
    /** CUDA kernels were compiled into this binary. */
    compiled: boolean;
    /** A GPU can be used now. */
    usable: boolean;
    /** Why CUDA is not usable, when it is not. */
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

export function backends(): BackendReport {
  const native = loadNative();
  const info = native.backendInfo();
  return { cpu: { available: true, threads: info.cpu.threads, gemm: native.cpuGemmInfo() }, cuda: { ...info.cuda } };
}

export type CpuGemmEngine = 'builtin' | 'openblas';
export type CpuGemmKernel = 'auto' | 'avx512' | 'avx2' | 'generic';

/**
 * Chooses, for the whole process, how the built-in model multiplies matrices on the CPU: the built-in GEMM
 * (default; `kernel` 'auto' = the fastest this CPU runs, or a named one) or OpenBLAS, loaded at run time when a
 * libopenblas is installed (never required). The environment sets the initial choice: SR_GEMM=builtin|openblas,
 * SR_GEMM_KERNEL=auto|avx512|avx2|generic, SR_OPENBLAS_PATH=/path/to/libopenblas.so. An engine or kernel this
 * machine lacks is a RangeError saying why; `backends().cpu.gemm` reports the choice.
 */
export function setCpuGemm(options: { engine?: CpuGemmEngine; kernel?: CpuGemmKernel } = {}): void {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const { engine = 'builtin', kernel = 'auto' } = options;
  loadNative().setCpuGemm({ engine, kernel }); // checks both, naming them as options.engine / options.kernel
}

let cudaUsable: boolean | undefined;

export function cudaAvailable(): boolean {
  // backendInfo, not backends(): the GEMM report would load OpenBLAS just to say whether it is there.
  if (cudaUsable === undefined) cudaUsable = loadNative().backendInfo().cuda.usable;
  return cudaUsable;
}

/** 'auto' picks CUDA when a GPU is usable, else the CPU; 'cuda' without a GPU is an error saying why. */
export function resolveDevice(choice: DeviceChoice = 'auto', argName = 'device'): Device {
  if (choice === 'cpu') return 'cpu';
  if (choice === 'auto') return cudaAvailable() ? 'cuda' : 'cpu';
  if (choice === 'cuda') {
    if (!cudaAvailable()) {
      const reason = loadNative().backendInfo().cuda.reason ?? 'no usable GPU';
      throw new Error(`${argName} 'cuda' was requested but CUDA is not usable: ${reason}`);
    }
    return 'cuda';
  }
  throw new TypeError(`${argName} must be 'auto', 'cpu' or 'cuda', got ${shown(choice)}`);
}

/** Waits until all queued CUDA work has finished (no-op without a GPU). Benchmarks and timing code need it. */
export function synchronize(): void {
  loadNative().synchronize();
}
