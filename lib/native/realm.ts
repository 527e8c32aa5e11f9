/**
 * Errors thrown by the addon belong to the realm Node loaded it in. Code running in another realm (a vm
 * context, or a jest test) would see a TypeError that fails `instanceof TypeError`; rethrowing it as this
 * realm's class keeps `instanceof` and `expect(...).toThrow(TypeError)` working everywhere.
 */
const REALM_ERRORS: Record<string, ErrorConstructor> = { TypeError, RangeError, Error };

export function inThisRealm(e: unknown): unknown {
  if (e === null || typeof e !== 'object') return e;
  const err = e as Error;
  const Ctor = REALM_ERRORS[err.name];
  if (!Ctor || (e as object) instanceof Ctor) return e;
  const copy = new Ctor(String(err.message));
  copy.stack = String(err.stack);
  return copy;
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function';
}

/** Runs a synchronous native call, rethrowing its error in this realm. */
export function guarded<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw inThisRealm(e);
  }
}
