/** What the native core was built with and what can run now; the device choice is made here. */
import { shown } from './internal/validate';
import { loadNative } from './native/loader';

export type Device = 'cpu' | 'cuda';
export type DeviceChoice = Device | 'auto';

export interface BackendReport {
  cpu: { available: true; threads: number };
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
  const info = loadNative().backendInfo();
  return { cpu: { available: true, threads: info.cpu.threads }, cuda: { ...info.cuda } };
}

let cudaUsable: boolean | undefined;

export function cudaAvailable(): boolean {
  if (cudaUsable === undefined) cudaUsable = backends().cuda.usable;
  return cudaUsable;
}

/** 'auto' picks CUDA when a GPU is usable, else the CPU; 'cuda' without a GPU is an error saying why. */
export function resolveDevice(choice: DeviceChoice = 'auto', argName = 'device'): Device {
  if (choice === 'cpu') return 'cpu';
  if (choice === 'auto') return cudaAvailable() ? 'cuda' : 'cpu';
  if (choice === 'cuda') {
    if (!cudaAvailable()) {
      const reason = backends().cuda.reason ?? 'no usable GPU';
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
