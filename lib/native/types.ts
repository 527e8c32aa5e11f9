/** The native addon's surface, as the TypeScript layer sees it. Users never touch it directly. */

export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
  copyTo(target: Float32Array | Int32Array | Uint8Array): void;
  toDevice(device: 'cpu' | 'cuda'): NativeTensor;
  byteLength(): number;
}

export interface NativeTensorClass {
  fromTypedArray(
    data: Float32Array | Int32Array | Uint8Array | Uint16Array,
    shape: number[],
    dtype: string,
    device: string,
  ): NativeTensor;
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
  [kernel: string]: unknown;
}
