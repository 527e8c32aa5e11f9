/**
 * Minimal safetensors reader and writer: 8-byte little-endian header length, a
 * JSON header { name: { dtype, shape, data_offsets } }, then the raw
 * little-endian data. Files are written to a temporary name and renamed, so a
 * reader never sees a half-written file.
 *
 * Written: F32, or BF16 (rounded to nearest even by the native core, NaN kept a
 * NaN). Read: F32, BF16 and F16, always returned as f32 (the widening is exact).
 * The reader checks the header against the file before trusting it: every
 * tensor's dtype, shape and byte range, and that the ranges tile the data
 * exactly (no overlap, no hole, nothing past the end), as the format requires.
 */
import * as fs from 'fs';
import * as path from 'path';
import { oneOf } from '../internal/validate';
import { Tensor } from '../tensor';

export interface NamedArray {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** The element types read; `data` is f32 whatever the file held. */
export type SafetensorsDType = 'F32' | 'BF16' | 'F16';
export interface LoadedArray extends NamedArray {
  /** The dtype stored in the file. */
  dtype: SafetensorsDType;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, BF16: 2, F16: 2 };

/** Writes `file` atomically (temp file in the same folder, then rename). */
export async function writeFileAtomic(file: string, write: (fd: fs.promises.FileHandle) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await write(fh);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.promises.rename(tmp, file);
}

/** Raw bfloat16 bits of `data`, rounded by the native core (the same conversion as Tensor.from(..., { dtype: 'bf16' })). */
function toBf16Bits(data: Float32Array): Uint16Array {
  const t = Tensor.from(data, [data.length], { dtype: 'bf16' });
  try {
    // A bf16 value widened to f32 has zero low 16 bits: its high half is the bf16 encoding.
    const wide = t.toArray() as Float32Array;
    const words = new Uint32Array(wide.buffer, wide.byteOffset, wide.length);
    const out = new Uint16Array(wide.length);
    for (let i = 0; i < out.length; i++) out[i] = words[i] >>> 16;
    return out;
  } finally {
    t.dispose();
  }
}

function fromBf16Bits(bits: Uint16Array): Float32Array {
  const t = Tensor.from(bits, [bits.length], { dtype: 'bf16' });
  try {
    return t.toArray() as Float32Array;
  } finally {
    t.dispose();
  }
}

let f16Table: Float32Array | undefined;

/** IEEE half -> float, all 65536 encodings at once (exact: every half is a float). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let u: number;
    if (exp === 0x1f)
      u = sign | 0x7f800000 | (mant << 13); // inf, NaN (payload kept)
    else if (exp !== 0)
      u = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 -> 127
    else if (mant === 0)
      u = sign; // +-0
    else {
      // Subnormal half: normal as a float; shift the leading 1 up to the implicit bit.
      let e = 113;
      let m = mant;
      while (!(m & 0x400)) {
        m <<= 1;
        e--;
      }
      u = sign | (e << 23) | ((m & 0x3ff) << 13);
    }
    bits[h] = u >>> 0;
  }
  f16Table = new Float32Array(bits.buffer);
  return f16Table;
}

export interface SaveSafetensorsOptions {
  /** Element type written: 'f32' (default, exact) or 'bf16' (half the size, ~3 significant digits). */
  dtype?: 'f32' | 'bf16';
}

export async function saveSafetensors(
  file: string,
  tensors: NamedArray[],
  metadata: Record<string, string> = {},
  options: SaveSafetensorsOptions = {},
): Promise<void> {
  const dtype = oneOf(options.dtype, 'options.dtype', ['f32', 'bf16'] as const, 'f32');
  const tag: SafetensorsDType = dtype === 'bf16' ? 'BF16' : 'F32';
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * BYTES[tag];
    header[t.name] = { dtype: tag, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  await writeFileAtomic(file, async (fh) => {
    await fh.write(head);
    for (const t of tensors) {
      const data = tag === 'BF16' ? toBf16Bits(t.data) : t.data;
      await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // x86/ARM are little-endian
    }
  });
}

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Checks one header entry against the format and the data size; returns it typed. */
function checkEntry(file: string, name: string, info: unknown, dataBytes: number): Entry {
  const where = `${file}: tensor ${JSON.stringify(name)}`;
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    throw new RangeError(`${where}: its header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new TypeError(`${where} has no dtype string (got ${JSON.stringify(dtype)})`);
  if (!(dtype in BYTES)) {
    throw new TypeError(`${where} has dtype ${dtype}; supported: ${Object.keys(BYTES).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new RangeError(`${where} (${dtype}): shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new RangeError(`${where} (${dtype}): data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const count = shape.reduce((a: number, d: number) => a * d, 1);
  const need = count * BYTES[dtype as SafetensorsDType];
  if (end - begin !== need) {
    throw new RangeError(`${where} (${dtype}, shape [${shape.join(', ')}]) needs ${need} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  if (end > dataBytes) {
    throw new RangeError(
      `${where} (${dtype}) ends at data byte ${end} but the file holds ${dataBytes} bytes of data: the file is truncated or its header is wrong`,
    );
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end };
}

function decode(buf: Buffer, e: Entry): Float32Array {
  const bytes = buf.subarray(e.begin, e.end);
  const count = (e.end - e.begin) / BYTES[e.dtype];
  // Copies first: the data need not be aligned for a typed-array view.
  if (e.dtype === 'F32') {
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const bits = new Uint16Array(count);
  new Uint8Array(bits.buffer).set(bytes);
  if (e.dtype === 'BF16') return fromBf16Bits(bits);
  const table = f16ToF32Table();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = table[bits[i]];
  return out;
}

export async function loadSafetensors(file: string): Promise<Map<string, LoadedArray>> {
  const buf = await fs.promises.readFile(file);
  if (buf.length < 8) throw new RangeError(`${file}: not a safetensors file (shorter than 8 bytes)`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) {
    throw new RangeError(`${file}: header length ${n} exceeds the file (${buf.length} bytes): truncated or not a safetensors file`);
  }
  const base = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, base).toString('utf8'));
  } catch (e) {
    throw new RangeError(`${file}: the safetensors header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new RangeError(`${file}: the safetensors header is not a JSON object`);
  }
  const dataBytes = buf.length - base;
  const entries = Object.entries(header as Record<string, unknown>)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, info]) => checkEntry(file, name, info, dataBytes));
  // The byte ranges must tile the data: an overlap or a hole means the header does not describe this file.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < at) {
      throw new RangeError(
        `${file}: tensors ${JSON.stringify(prev!.name)} [${prev!.begin}, ${prev!.end}) and ${JSON.stringify(e.name)} [${e.begin}, ${e.end}) overlap`,
      );
    }
    if (e.begin > at) throw new RangeError(`${file}: data bytes [${at}, ${e.begin}) belong to no tensor (before ${JSON.stringify(e.name)})`);
    at = e.end;
    prev = e;
  }
  if (at !== dataBytes) throw new RangeError(`${file}: data bytes [${at}, ${dataBytes}) belong to no tensor`);

  const data = buf.subarray(base);
  const out = new Map<string, LoadedArray>();
  for (const e of entries) out.set(e.name, { name: e.name, shape: e.shape, dtype: e.dtype, data: decode(data, e) });
  return out;
}
