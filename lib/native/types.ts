/**
 * The native addon's surface, as the TypeScript layer sees it. Users never touch it directly.
 * Calling convention (docs/CONTRIBUTING.md): every native function takes ONE object of named inputs
 * (tensors, numbers, strings, and `async?: boolean` for kernels), checked once, in the binding.
 */

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
export interface NativeLimit {
  /** How errors name the input (the TypeScript API's spelling, e.g. 'options.sigma'). */
  name: string;
  min: number;
  max: number;
  /** value > min instead of >= min. */
  minOpen: boolean;
  maxOpen: boolean;
  /** A whole number. */
  integer: boolean;
  /** The words after "must be": '> 0', 'in [0, 1]', 'a positive integer', ... */
  text: string;
}

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

/** Each kernel binding adds its functions; they are declared next to their TypeScript wrappers. */
export interface NativeAddon {
  NativeTensor: NativeTensorClass;
  backendInfo(): NativeBackendInfo;
  synchronize(): void;
  registeredBindings: string[];
  /** limits[function][input]: the numeric ranges each binding checks. */
  limits: Record<string, Record<string, NativeLimit>>;
  [kernel: string]: unknown;
}
