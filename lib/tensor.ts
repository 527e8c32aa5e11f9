/**
 * Tensor: a dense, row-major array on the CPU or a CUDA device, owned by the
 * native core. Memory is freed by dispose() (idempotent) or, if forgotten, by
 * the garbage collector; native memory is reported to V8 so that it collects
 * in time. Using a disposed tensor is a TypeError.
 */
import { Device, DeviceChoice, resolveDevice } from './backends';
import { loadNative } from './native/loader';
import { guarded } from './native/realm';
import type { NativeTensor } from './native/types';
import { optionsObject, shown, unshared } from './internal/validate';

export type DType = 'f32' | 'bf16' | 'i32' | 'u8';
export const DTYPES: readonly DType[] = ['f32', 'bf16', 'i32', 'u8'];

/** Numbers: a typed array (not BigInt64Array) or an Array of numbers (array-likes are refused). */
export type TensorData =
  Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array | Int16Array | Uint32Array | Uint8ClampedArray | readonly number[];

export interface TensorOptions {
  /** Default 'cpu'. 'auto' picks CUDA when a GPU is usable. */
  device?: DeviceChoice;
  /** Default: from the data (Float32Array/Float64Array/number[] -> f32, Int32Array -> i32, Uint8Array -> u8). */
  dtype?: DType;
}

/** What the TypeScript layer hands to the native core. */
export type HostArray = Float32Array | Int32Array | Uint8Array | Uint16Array;

function inferDType(data: TensorData): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'u8';
  if (data instanceof Uint16Array) return 'bf16';
  return 'f32';
}

/**
 * Checks that `data` is numbers: a typed array of numbers, or an Array whose every element is a number (NaN
 * and infinities included: the kernels define what they do with them). Array-likes, strings, null, BigInt
 * arrays and arrays holding anything but numbers are a TypeError naming the element, never converted to NaN.
 */
function checkNumeric(data: unknown, argName: string, what: string): asserts data is TensorData {
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const tag = Object.prototype.toString.call(data);
    if (tag === '[object BigInt64Array]' || tag === '[object BigUint64Array]') throw new TypeError(`${argName} must be ${what}, got a ${tag.slice(8, -1)}`);
    return;
  }
  if (!Array.isArray(data)) {
    const got = data === null ? 'null' : typeof data === 'object' ? 'an object that is not an array' : typeof data;
    throw new TypeError(`${argName} must be ${what}, got ${got}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== 'number') throw new TypeError(`${argName}[${i}] must be a number, got ${v === null ? 'null' : typeof v}`);
  }
}

function toHostArray(data: TensorData, dtype: DType, argName: string): HostArray {
  const host = convert(data, dtype, argName);
  // The native core reads plain ArrayBuffers only: a view of shared memory is copied.
  return unshared(host);
}

function convert(data: TensorData, dtype: DType, argName: string): HostArray {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    case 'bf16':
      // A Uint16Array holds raw bfloat16 bits; anything else is converted from float.
      if (data instanceof Uint16Array || data instanceof Float32Array) return data;
      return Float32Array.from(data as ArrayLike<number>);
    case 'i32': {
      if (data instanceof Int32Array) return data;
      const out = new Int32Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = (data as ArrayLike<number>)[i];
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new RangeError(`${argName}[${i}] = ${v} is not a 32-bit integer (dtype i32)`);
        }
        out[i] = v;
      }
      return out;
    }
    case 'u8': {
      if (data instanceof Uint8Array) return data;
      const out = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = (data as ArrayLike<number>)[i];
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`${argName}[${i}] = ${v} is not a u8`);
        out[i] = v;
      }
      return out;
    }
  }
}

function checkShape(shape: unknown, argName: string): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${argName} must be an array of non-negative integers`);
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new TypeError(`${argName}[${i}] must be a non-negative integer, got ${String(d)}`);
    }
    return d;
  });
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  /** @internal the native handle; kernels pass it to the addon. */
  readonly handle: NativeTensor;

  /** @internal use Tensor.from or a kernel. */
  constructor(handle: NativeTensor, shape: readonly number[], dtype: DType, device: Device) {
    this.handle = handle;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = device;
  }

  /** A tensor holding a copy of `data`, laid out row-major in `shape` (default: [data.length]). */
  static from(data: TensorData, shape?: readonly number[], options: TensorOptions = {}): Tensor {
    checkNumeric(data, 'data', 'a typed array or an array of numbers');
    const opts = optionsObject(options);
    const dims = checkShape(shape ?? [data.length], 'shape');
    const dtype = opts.dtype ?? inferDType(data);
    if (!(['f32', 'bf16', 'i32', 'u8'] as const).includes(dtype)) {
      throw new TypeError(`options.dtype must be one of 'f32', 'bf16', 'i32', 'u8', got ${shown(dtype)}`);
    }
    if (data instanceof Uint16Array && dtype !== 'bf16') {
      throw new TypeError('a Uint16Array is read as raw bfloat16 bits: pass dtype "bf16"');
    }
    const numel = dims.reduce((a, b) => a * b, 1);
    if (numel !== data.length) {
      throw new RangeError(`data has ${data.length} elements but shape [${dims.join(', ')}] needs ${numel}`);
    }
    const device = resolveDevice(opts.device ?? 'cpu', 'options.device');
    const host = toHostArray(data, dtype, 'data');
    const handle = guarded(() => loadNative().NativeTensor.fromTypedArray({ data: host, shape: dims, dtype, device }));
    return new Tensor(handle, dims, dtype, device);
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
    const dims = checkShape(shape, 'shape');
    const n = dims.reduce((a, b) => a * b, 1);
    const opts = optionsObject(options);
    const dtype = opts.dtype ?? 'f32';
    const data = dtype === 'i32' ? new Int32Array(n) : dtype === 'u8' ? new Uint8Array(n) : new Float32Array(n);
    return Tensor.from(data, dims, { ...opts, dtype });
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get disposed(): boolean {
    return this.handle.isDisposed();
  }

  /** @internal throws if disposed; `argName` names the tensor in the error. */
  live(argName = 'tensor'): NativeTensor {
    if (this.handle.isDisposed()) throw new TypeError(`${argName} is a disposed Tensor`);
    return this.handle;
  }

  /** A host copy: Float32Array for f32 and bf16, Int32Array for i32, Uint8Array for u8. */
  toArray(): Float32Array | Int32Array | Uint8Array {
    const h = this.live();
    const n = this.size;
    const out = this.dtype === 'i32' ? new Int32Array(n) : this.dtype === 'u8' ? new Uint8Array(n) : new Float32Array(n);
    guarded(() => h.copyTo({ target: out }));
    return out;
  }

  /** A copy on `device` (always a new tensor, even on the same device). */
  to(device: DeviceChoice): Tensor {
    const target = resolveDevice(device, 'device');
    return new Tensor(
      guarded(() => this.live().toDevice({ device: target })),
      this.shape,
      this.dtype,
      target,
    );
  }

  /** Frees the memory now. Safe to call more than once. */
  dispose(): void {
    this.handle.dispose();
  }

  /** `using t = ...`: dispose() at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device}${this.disposed ? ', disposed' : ''})`;
  }
}

/** A Tensor, or (for a CPU input) a typed array / number array taken as a 1-D or given-shape tensor. */
export type TensorLike = Tensor | TensorData;

/**
 * Turns a kernel argument into a live Tensor. Plain arrays become CPU tensors of
 * `dtype` and `shape` (default [length]); the caller disposes what `owned` lists.
 */
export function asTensor(value: TensorLike, argName: string, dtype: DType, owned: Tensor[], shape?: readonly number[]): Tensor {
  if (value instanceof Tensor) {
    value.live(argName);
    return value;
  }
  checkNumeric(value, argName, 'a Tensor, a typed array or an array of numbers');
  const dims = shape ?? [value.length];
  const n = dims.reduce((a, b) => a * b, 1);
  if (value.length !== n) {
    throw new RangeError(`${argName} has ${value.length} elements, expected ${n} (shape [${dims.join(', ')}])`);
  }
  if (value instanceof Uint16Array && dtype !== 'bf16') {
    throw new TypeError(`${argName} is a Uint16Array (raw bf16) but dtype ${dtype} is expected`);
  }
  const host = toHostArray(value, dtype, argName);
  const handle = guarded(() => loadNative().NativeTensor.fromTypedArray({ data: host, shape: [...dims], dtype, device: 'cpu' }));
  const t = new Tensor(handle, dims, dtype, 'cpu');
  owned.push(t);
  return t;
}

/** Checks a tensor's shape, naming the argument. */
export function expectShape(t: Tensor, argName: string, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${argName} must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

/** Disposes temporaries created by asTensor, also when the kernel throws. */
export function disposeAll(tensors: Tensor[]): void {
  for (const t of tensors) t.dispose();
}
