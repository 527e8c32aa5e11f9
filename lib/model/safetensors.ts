/**
 * Minimal safetensors (f32) reader and writer: 8-byte little-endian header
 * length, a JSON header { name: { dtype, shape, data_offsets } }, then the raw
 * little-endian data. Files are written to a temporary name and renamed, so a
 * reader never sees a half-written file.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface NamedArray {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

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

export async function saveSafetensors(file: string, tensors: NamedArray[], metadata: Record<string, string> = {}): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
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
      const le = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength); // x86/ARM are little-endian
      await fh.write(le);
    }
  });
}

export async function loadSafetensors(file: string): Promise<Map<string, NamedArray>> {
  const buf = await fs.promises.readFile(file);
  if (buf.length < 8) throw new RangeError(`${file}: not a safetensors file (shorter than 8 bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new RangeError(`${file}: header length ${n} exceeds the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    throw new RangeError(`${file}: the safetensors header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const out = new Map<string, NamedArray>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new TypeError(`${file}: tensor ${name} has dtype ${info.dtype}; only F32 is supported`);
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((a, x) => a * x, 1);
    if (e - b !== count * 4 || base + e > buf.length) throw new RangeError(`${file}: tensor ${name} has inconsistent offsets`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(base + b, base + e));
    out.set(name, { name, shape: info.shape, data });
  }
  return out;
}
