/** Option checks shared by the kernel wrappers. Each error names the argument and what was expected. */

/** A range as native.limits states it (lib/native's NativeLimit; defined here, the lowest layer). */
export interface RangeLimit {
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

/** A value as an error message shows it: JSON where possible (never throws: BigInts, symbols, cycles). */
export function shown(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A string argument (TypeError naming it otherwise). */
export function stringArg(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${value === null ? 'null' : typeof value}`);
  return value;
}

export function optionalNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  return finiteNumber(value, name);
}

/** A nucleus-sampling mass (top-p) in (0, 1]; undefined gives 1, the full softmax. */
export function topPOption(value: unknown, name: string): number {
  if (value === undefined) return 1;
  const v = finiteNumber(value, name);
  if (!(v > 0 && v <= 1)) throw new RangeError(`${name} must be in (0, 1], got ${v}`);
  return v;
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

/** The largest finite f32: numbers the native core reads as f32 must not exceed it in magnitude. */
export const F32_MAX = 3.4028234663852886e38;

/** A finite number that stays finite when the native core rounds it to f32. */
export function finiteF32(value: unknown, name: string): number {
  const v = finiteNumber(value, name);
  if (Math.abs(v) > F32_MAX) throw new RangeError(`${name} must be finite in f32 (magnitude at most 3.4e38), got ${v}`);
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
    throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${shown(value)}`);
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

/** SharedArrayBuffer-backed views are copied (the native core reads only plain ArrayBuffers); others pass as they are. */
export function unshared<T extends ArrayBufferView & { slice(): T }>(array: T): T {
  return Object.prototype.toString.call(array.buffer) === '[object SharedArrayBuffer]' ? array.slice() : array;
}
