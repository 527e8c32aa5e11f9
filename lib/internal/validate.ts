/** Option checks shared by the kernel wrappers. Each error names the argument and what was expected. */

/** A range as native.limits states it (lib/native's NativeLimit has this shape; internal imports no layer). */
export interface RangeLimit {
  name: string;
  min: number;
  max: number;
  minOpen: boolean;
  maxOpen: boolean;
  integer: boolean;
  text: string;
}

export function optionalNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  return finiteNumber(value, name);
}

export function finiteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
  return value;
}

/**
 * A finite number within a range the native side states (native.limits: the kernel's header), checked
 * before any native call with the binding's own words: `${name} must be ${limit.text}, got ${value}`.
 */
export function limitedNumber(value: unknown, limit: RangeLimit, name = limit.name): number {
  const v = finiteNumber(value, name);
  const above = limit.minOpen ? v > limit.min : v >= limit.min;
  const below = limit.maxOpen ? v < limit.max : v <= limit.max;
  if (!above || !below || (limit.integer && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be ${limit.text}, got ${v}`);
  }
  return v;
}

export function positiveNumber(value: unknown, name: string, fallback?: number): number {
  const v = value === undefined && fallback !== undefined ? fallback : finiteNumber(value, name);
  if (!(v > 0)) throw new RangeError(`${name} must be > 0, got ${v}`);
  return v;
}

export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${typeof value}`);
  return value;
}

export function optionsObject<T extends object>(value: T | undefined, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw new TypeError(`${name} must be an object`);
  return value;
}
