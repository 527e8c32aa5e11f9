/**
 * The generated bad inputs of the fuzz corpus: values of every JavaScript type and edge, and what an argument of
 * each kind must refuse. An argument's cases substitute each value in an otherwise valid call.
 */

export interface BadValue {
  label: string;
  make(): unknown;
}

const sharedF32 = () => {
  const a = new Float32Array(new SharedArrayBuffer(16));
  a.set([0.5, -1, 2, 0]);
  return a;
};

export const BAD_VALUES: readonly BadValue[] = [
  { label: 'undefined', make: () => undefined },
  { label: 'null', make: () => null },
  { label: 'NaN', make: () => NaN },
  { label: 'Infinity', make: () => Infinity },
  { label: '-Infinity', make: () => -Infinity },
  { label: '-1', make: () => -1 },
  { label: '0', make: () => 0 },
  { label: '0.5', make: () => 0.5 },
  { label: '2^53', make: () => 2 ** 53 },
  { label: '1e39', make: () => 1e39 },
  { label: '-1e39', make: () => -1e39 },
  { label: '5e-324', make: () => 5e-324 },
  { label: 'empty string', make: () => '' },
  { label: '"a"', make: () => 'a' },
  { label: '"1"', make: () => '1' },
  { label: 'true', make: () => true },
  { label: '{}', make: () => ({}) },
  { label: '[]', make: () => [] },
  { label: '[NaN, NaN, NaN, NaN]', make: () => [NaN, NaN, NaN, NaN] },
  { label: '{length: 4}', make: () => ({ length: 4 }) },
  { label: '[1, "a", null, true]', make: () => [1, 'a', null, true] },
  { label: 'Symbol', make: () => Symbol('x') },
  { label: '1n', make: () => 1n },
  { label: 'function', make: () => () => 1 },
  { label: 'Float64Array(4)', make: () => new Float64Array([0.5, -1, 2, 0]) },
  { label: 'Int8Array(4)', make: () => new Int8Array([1, -1, 2, 0]) },
  { label: 'BigInt64Array(4)', make: () => new BigInt64Array(4) },
  { label: 'shared Float32Array(4)', make: sharedF32 },
  { label: 'DataView', make: () => new DataView(new ArrayBuffer(16)) },
  { label: 'Date', make: () => new Date(0) },
  { label: 'Buffer', make: () => Buffer.from([1, 2, 3, 4]) },
  { label: '1 MB string', make: () => 'answer' + ' '.repeat(1 << 20) + 'x' },
];

/** What an argument is; decides which values it must refuse. */
export type Kind =
  | 'tensor' // TensorLike: a Tensor, a typed array of numbers, or an Array of numbers
  | 'number' // finite number
  | 'int'
  | 'string'
  | 'bool'
  | 'object' // a plain options object
  | 'array' // an Array
  | 'any'; // anything may be accepted (the result is still validated)

const isNumericArray = (v: unknown): boolean => {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const tag = Object.prototype.toString.call(v);
    return tag !== '[object BigInt64Array]' && tag !== '[object BigUint64Array]';
  }
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
};

/** True when an argument of `kind` must refuse `v` (a TypeError/RangeError naming it); false: it may accept it. */
export function mustRefuse(kind: Kind, v: unknown, optional: boolean): boolean {
  if (v === undefined || v === null) return !optional; // null: "not given", like undefined
  switch (kind) {
    case 'tensor':
      return !isNumericArray(v) && !(typeof v === 'object' && v !== null && (v as { constructor?: { name?: string } }).constructor?.name === 'Tensor');
    case 'number':
      return typeof v !== 'number' || !Number.isFinite(v);
    case 'int':
      return typeof v !== 'number' || !Number.isInteger(v);
    case 'string':
      return typeof v !== 'string';
    case 'bool':
      return typeof v !== 'boolean';
    case 'object':
      return v === null || typeof v !== 'object';
    case 'array':
      return !Array.isArray(v);
    case 'any':
      return false;
  }
}
