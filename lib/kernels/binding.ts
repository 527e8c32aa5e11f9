/** Shared plumbing of the kernel wrappers: typed access to a kernel's binding and temporaries' lifetime. */
import { loadNative } from '../native/loader';
import type { NativeTensor } from '../native/types';
import { Tensor, disposeAll } from '../tensor';

/** The addon, typed as the binding functions a kernel declares. */
export function binding<T>(): T {
  return loadNative() as unknown as T;
}

/** A native result: the value itself (sync call) or a Promise of it (async call). */
export type MaybeAsync<T> = T | Promise<T>;

/**
 * Runs a native call and disposes the temporaries made from plain arrays. For
 * async calls disposing right away is safe: the queued job holds its own
 * references to the inputs' storage.
 */
export function withTemporaries<T>(owned: Tensor[], call: () => T): T {
  try {
    return call();
  } finally {
    disposeAll(owned);
  }
}

/** Wraps a native tensor handle produced on `device`. */
export function wrapHandle(
  handle: NativeTensor,
  shape: readonly number[],
  dtype: Tensor['dtype'],
  device: Tensor['device'],
): Tensor {
  return new Tensor(handle, shape, dtype, device);
}
