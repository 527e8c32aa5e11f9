/** Shared plumbing of the kernel wrappers: typed access to a kernel's binding and temporaries' lifetime. */
import { loadNative } from '../native/loader';
import { inThisRealm, isThenable } from '../native/realm';
import type { NativeTensor } from '../native/types';
import { Tensor, disposeAll } from '../tensor';

let wrapped: Record<string, unknown> | undefined;

/** The addon, typed as the binding functions a kernel declares, with errors in this realm. */
export function binding<T>(): T {
  if (!wrapped) {
    const addon = loadNative() as unknown as Record<string, unknown>;
    wrapped = {};
    for (const [name, value] of Object.entries(addon)) {
      if (typeof value !== 'function' || name === 'NativeTensor') {
        wrapped[name] = value;
        continue;
      }
      const fn = value as (...args: unknown[]) => unknown;
      wrapped[name] = (...args: unknown[]) => {
        let out: unknown;
        try {
          out = fn(...args);
        } catch (e) {
          throw inThisRealm(e);
        }
        if (isThenable(out)) return Promise.resolve(out).catch((e) => Promise.reject(inThisRealm(e)));
        return out;
      };
    }
  }
  return wrapped as unknown as T;
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
export function wrapHandle(handle: NativeTensor, shape: readonly number[], dtype: Tensor['dtype'], device: Tensor['device']): Tensor {
  return new Tensor(handle, shape, dtype, device);
}

/** Passes a native result through `wrap`: at once for a sync call, when it resolves for an async one. */
export function mapResult<N, R>(out: MaybeAsync<N>, async: boolean, wrap: (n: N) => R): never {
  return (async ? (out as Promise<N>).then(wrap) : wrap(out as N)) as never;
}

/** The async variant's contract: bad input rejects the Promise instead of throwing. */
export function settle<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (e) {
    return Promise.reject(e);
  }
}
