/**
 * Model files in bf16 and f16: bf16 writing (checked against a rounding written here from the definition, in
 * float64 arithmetic, not bit tricks), F16 and BF16 reading of files made by hand, a model loaded from bf16
 * against its f32 original, and every malformed-file error.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PolicyModel } from '../../lib';
import type { ModelConfigInput } from '../../lib';
import { loadSafetensors, saveSafetensors } from '../../lib/model/safetensors';
import { Rng, seedNote } from '../helpers/random';
import { randomizeParameters, tempDir } from './helpers';

const TINY: ModelConfigInput = { dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 48 };
const rng = new Rng();

/** The bfloat16 value nearest to the float x, ties to even significand; beyond the largest bf16 -> infinity. */
function bf16Round(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.max(Math.floor(Math.log2(a)), -126); // below 2^-126: the subnormal spacing
  while (e > -126 && 2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (e - 7); // 8 significant bits
  const q = a / ulp; // exact: a has at most 24 significant bits
  let r = Math.floor(q);
  if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r += 1;
  return Math.sign(x) * Math.fround(r * ulp); // fround: 2^128 is infinity
}

/** The value of an IEEE binary16 encoding, from the definition. */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

/** A safetensors file from a header object and raw data, exactly as given (no checks): for malformed files. */
function writeRaw(file: string, header: unknown, data: Uint8Array | Buffer): void {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.from(data)]));
}

/** Element-wise identity (NaN equals NaN, -0 differs from 0); returns the first mismatch or null. */
function firstMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) return `[${i}]: ${actual[i]} != ${expected[i]}`;
  }
  return null;
}

function specialValues(): Float32Array {
  const values = fromBits([
    0x3f808000, // 1 + 2^-8: halfway between 1 and 1 + 2^-7, even neighbour below
    0x3f818000, // halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up
    0x3f808001, // just above a halfway point: up
    0xbf807fff, // just below a halfway point, negative: down in magnitude
    0x7f7fffff, // largest float: rounds to infinity
    0x7f7f7fff, // largest float that rounds down to the largest bf16
    0x00000001, // smallest subnormal: rounds to 0
    0x00008000, // halfway between 0 and the smallest bf16 subnormal: ties to even (0)
    0x00018000, // halfway between 2^-133 (odd) and 2^-132: up
    0x007fffff, // largest subnormal: rounds up to 2^-126
    0x80000000, // -0
    0x7f800000, // inf
    0xff800000, // -inf
    0x7fc00000, // NaN
    0xffc12345, // negative NaN with a payload
    0x7f800001, // signalling NaN: must stay a NaN, not become infinity
  ]);
  return values;
}

describe('bf16 writing', () => {
  test('values are the f32 values rounded to nearest even bf16; NaN stays NaN; the file is half the size', async () => {
    const dir = tempDir('bf16');
    const special = specialValues();
    const scales = [1e-30, 1e-3, 1, 1e3, 1e30];
    const random = Float32Array.from({ length: 5000 }, (_, i) => rng.normal() * scales[i % scales.length]);
    const tensors = [
      { name: 'special', shape: [special.length], data: special },
      { name: 'random', shape: [50, 100], data: random },
      { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
    ];
    await saveSafetensors(path.join(dir, 'a.safetensors'), tensors, {}, { dtype: 'bf16' });
    await saveSafetensors(path.join(dir, 'b.safetensors'), tensors);
    const bf = await loadSafetensors(path.join(dir, 'a.safetensors'));
    for (const t of tensors) {
      const got = bf.get(t.name)!;
      expect(got.dtype).toBe('BF16');
      expect(got.shape).toEqual(t.shape);
      expect(firstMismatch(got.data, Array.from(t.data, bf16Round))).toBeNull();
    }
    // Not vacuous: rounding changed most random values, and the ties went the way the definition says.
    const rounded = bf.get('special')!.data;
    expect(Array.from(rounded.slice(0, 4))).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, -1]);
    expect(rounded[4]).toBe(Infinity);
    expect([rounded[6], rounded[7], rounded[8], rounded[9]]).toEqual([0, 0, 2 ** -132, 2 ** -126]);
    expect(Array.from(rounded.slice(13)).every(Number.isNaN)).toBe(true);
    expect(bf.get('random')!.data.filter((v, i) => v !== random[i]).length).toBeGreaterThan(4500);
    // f32 stays exact, and bf16 data is half as large.
    expect(firstMismatch((await loadSafetensors(path.join(dir, 'b.safetensors'))).get('random')!.data, random)).toBeNull();
    const dataBytes = (f: string) => {
      const buf = fs.readFileSync(path.join(dir, f));
      return buf.length - 8 - Number(buf.readBigUInt64LE(0));
    };
    expect(dataBytes('a.safetensors')).toBe(2 * (special.length + random.length));
    expect(dataBytes('b.safetensors')).toBe(4 * (special.length + random.length));
  });

  test('BF16 written by another program (raw bits) reads back exactly', async () => {
    const file = path.join(tempDir('bf16-raw'), 'x.safetensors');
    const bits = Uint16Array.from({ length: 4096 }, () => rng.int(0, 65536));
    writeRaw(file, { x: { dtype: 'BF16', shape: [64, 64], data_offsets: [0, bits.byteLength] } }, new Uint8Array(bits.buffer));
    const x = (await loadSafetensors(file)).get('x')!;
    expect(x.shape).toEqual([64, 64]);
    // A bf16 encoding is the high half of the float32 encoding of the same value.
    const expected = fromBits(Array.from(bits, (b) => b * 65536));
    expect(firstMismatch(x.data, expected)).toBeNull();
  });

  test('options.dtype is checked before anything is written', async () => {
    const dir = tempDir('bf16-bad');
    const t = [{ name: 'a', shape: [1], data: new Float32Array(1) }];
    await expect(saveSafetensors(path.join(dir, 'x.safetensors'), t, {}, { dtype: 'f16' as never })).rejects.toThrow(TypeError);
    await expect(saveSafetensors(path.join(dir, 'x.safetensors'), t, {}, { dtype: 'f16' as never })).rejects.toThrow(/options\.dtype/);
    const model = PolicyModel.create(TINY, { seed: 1 });
    await expect(model.save(path.join(dir, 'm'), { dtype: 'fp16' as never })).rejects.toThrow(/options\.dtype must be one of 'f32', 'bf16'/);
    await expect(model.save(path.join(dir, 'm'), null as never)).rejects.toThrow(TypeError);
    expect(fs.readdirSync(dir)).toEqual([]);
    model.dispose();
  });
});

describe('F16 reading', () => {
  test('every one of the 65536 half encodings widens to its exact value', async () => {
    const file = path.join(tempDir('f16'), 'all.safetensors');
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    writeRaw(file, { __metadata__: { note: 'by hand' }, all: { dtype: 'F16', shape: [256, 256], data_offsets: [0, 131072] } }, new Uint8Array(bits.buffer));
    const all = (await loadSafetensors(file)).get('all')!;
    expect(all.dtype).toBe('F16');
    expect(all.shape).toEqual([256, 256]);
    expect(firstMismatch(all.data, Array.from(bits, f16Value))).toBeNull();
    expect(all.data[0x3c00]).toBe(1);
    expect(all.data[0x7bff]).toBe(65504);
    expect(all.data[0x0001]).toBe(2 ** -24);
  });

  test('a model whose weights are an F16 file made by hand loads with those values', async () => {
    const dir = tempDir('f16-model');
    const model = PolicyModel.create(TINY, { seed: 4 });
    await model.save(dir); // config.json and tokenizer.json; model.safetensors is replaced below
    const params = model.parameters();
    const header: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    const expected = new Map<string, number[]>();
    let offset = 0;
    for (const p of params) {
      // Random normal halves of magnitude 2^-6 .. 2^1 (exponent field 9..16), either sign.
      const bits = Uint16Array.from({ length: p.value.size }, () => (rng.int(0, 2) << 15) | (rng.int(9, 17) << 10) | rng.int(0, 1024));
      header[p.name] = { dtype: 'F16', shape: [...p.value.shape], data_offsets: [offset, offset + bits.byteLength] };
      offset += bits.byteLength;
      chunks.push(Buffer.from(bits.buffer));
      expected.set(p.name, Array.from(bits, f16Value));
    }
    writeRaw(path.join(dir, 'model.safetensors'), header, Buffer.concat(chunks));
    const loaded = await PolicyModel.load(dir);
    for (const p of loaded.parameters()) {
      expect({ name: p.name, mismatch: firstMismatch(p.value.toArray(), expected.get(p.name)!) }).toEqual({ name: p.name, mismatch: null });
    }
    model.dispose();
    loaded.dispose();
  });
});

describe('model saved in bf16', () => {
  test('loads with the rounded weights, and its log-probs are close to the f32 model', async () => {
    const model = PolicyModel.create(TINY, { seed: 7 });
    randomizeParameters(model, rng, 0.1);
    const dir = tempDir('bf16-model');
    await model.save(dir, { dtype: 'bf16' });
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const loaded = await PolicyModel.load(dir);
    expect(loaded.config).toEqual(model.config);
    // The same model with the weights rounded here: it must compute exactly what the loaded one does.
    const rounded = PolicyModel.create(TINY, { seed: 0 });
    const original = new Map(model.parameters().map((p) => [p.name, p.value.toArray() as Float32Array]));
    for (const p of loaded.parameters()) {
      const want = Float32Array.from(original.get(p.name)!, bf16Round);
      expect({ name: p.name, mismatch: firstMismatch(p.value.toArray(), want) }).toEqual({ name: p.name, mismatch: null });
      rounded.setParameter(p.name, want);
    }
    const batch = [
      { image: rng.float32(8 * 8 * 3, 0, 1), prompt: 'which is better?', response: 'the first' },
      { prompt: 'abc', response: 'defgh' },
    ];
    const lp = async (m: PolicyModel) => {
      const r = await m.logprobs(batch, { grad: false });
      const out = { logprobs: r.logprobs.toArray(), mask: r.mask.toArray() };
      r.logprobs.dispose();
      r.mask.dispose();
      return out;
    };
    const f32 = await lp(model);
    const bf = await lp(loaded);
    expect(Array.from(bf.logprobs)).toEqual(Array.from((await lp(rounded)).logprobs));
    // bf16 keeps 8 significant bits (relative error <= 2^-9 per weight). With weights of scale 0.1 the
    // log-probs (about -6 nats) moved by at most 0.007 nats over 12 seeds: 0.03 leaves a margin.
    let maxDiff = 0;
    let changed = 0;
    for (let i = 0; i < f32.logprobs.length; i++) {
      if (!f32.mask[i]) continue;
      maxDiff = Math.max(maxDiff, Math.abs(bf.logprobs[i] - f32.logprobs[i]));
      changed += bf.logprobs[i] !== f32.logprobs[i] ? 1 : 0;
    }
    expect(changed).toBeGreaterThan(0);
    if (!(maxDiff < 0.03)) throw new Error(`bf16 log-probs differ from f32 by up to ${maxDiff} nats ${seedNote}`);
    for (const m of [model, loaded, rounded]) m.dispose();
  });
});

describe('malformed files: errors name the file, the tensor and the dtype', () => {
  const dir = tempDir('bad');
  const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);
  const load = (header: unknown, data: Uint8Array, name = 'x.safetensors') => {
    const file = path.join(dir, name);
    writeRaw(file, header, data);
    return loadSafetensors(file);
  };

  test('unsupported dtype is a TypeError naming the tensor and the dtype', async () => {
    const p = load({ w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
    await expect(p).rejects.toThrow(TypeError);
    await expect(load({ w: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16))).rejects.toThrow(
      /tensor "w" has dtype F64; supported: F32, BF16, F16/,
    );
    await expect(load({ w: { shape: [2], data_offsets: [0, 8] } }, f32(2))).rejects.toThrow(/tensor "w" has no dtype/);
  });

  test('shape that does not match the bytes, or is not a shape', async () => {
    await expect(load({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, f32(4))).rejects.toThrow(
      /tensor "w" \(F32, shape \[2, 3\]\) needs 24 bytes but data_offsets \[0, 16\] hold 16/,
    );
    await expect(load({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 16] } }, f32(4))).rejects.toThrow(/"w" \(BF16, shape \[4\]\) needs 8 bytes/);
    await expect(load({ w: { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } }, f32(4))).rejects.toThrow(
      /tensor "w" \(F32\): shape \[-1,4\] is not a list of non-negative integers/,
    );
    await expect(load({ w: { dtype: 'F32', shape: '4', data_offsets: [0, 16] } }, f32(4))).rejects.toThrow(RangeError);
  });

  test('truncated files', async () => {
    const file = path.join(dir, 'trunc.safetensors');
    await saveSafetensors(
      file,
      [
        { name: 'a', shape: [3], data: new Float32Array(3) },
        { name: 'b', shape: [5], data: new Float32Array(5) },
      ],
      {},
      { dtype: 'bf16' },
    );
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 3));
    await expect(loadSafetensors(file)).rejects.toThrow(/tensor "b" \(BF16\) ends at data byte 16 but the file holds 13 bytes of data: the file is truncated/);
    fs.writeFileSync(file, whole.subarray(0, 20)); // inside the header
    await expect(loadSafetensors(file)).rejects.toThrow(/header length \d+ exceeds the file \(20 bytes\)/);
    fs.writeFileSync(file, whole.subarray(0, 5));
    await expect(loadSafetensors(file)).rejects.toThrow(/not a safetensors file \(shorter than 8 bytes\)/);
  });

  test('header lies: offsets out of range, reversed, overlapping, leaving holes; header not an object', async () => {
    await expect(load({ w: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } }, f32(4))).rejects.toThrow(/"w" \(F32\) ends at data byte 32/);
    await expect(load({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(1))).rejects.toThrow(/data_offsets \[8,4\] is not \[begin, end\]/);
    await expect(load({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8.5] } }, f32(2))).rejects.toThrow(/data_offsets/);
    await expect(load({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, f32(2))).rejects.toThrow(/data_offsets/);
    await expect(
      load({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32(4)),
    ).rejects.toThrow(/tensors "a" \[0, 12\) and "b" \[8, 16\) overlap/);
    await expect(
      load({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32(4)),
    ).rejects.toThrow(/data bytes \[4, 8\) belong to no tensor/);
    await expect(load({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(3))).rejects.toThrow(/data bytes \[4, 12\) belong to no tensor/);
    await expect(load([1, 2], new Uint8Array(0))).rejects.toThrow(/header is not a JSON object/);
    await expect(load({ w: 5 }, new Uint8Array(0))).rejects.toThrow(/tensor "w": its header entry is not an object/);
    const file = path.join(dir, 'notjson.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(3n);
    fs.writeFileSync(file, Buffer.concat([len, Buffer.from('{x}')]));
    await expect(loadSafetensors(file)).rejects.toThrow(/header is not JSON/);
  });

  test('PolicyModel.load passes these errors on, and checks shapes and names against the config', async () => {
    const model = PolicyModel.create(TINY, { seed: 2 });
    const mdir = tempDir('bad-model');
    await model.save(mdir, { dtype: 'bf16' });
    const file = path.join(mdir, 'model.safetensors');
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 1));
    await expect(PolicyModel.load(mdir)).rejects.toThrow(/model\.safetensors: tensor "lm_head\.weight" \(BF16\) ends at data byte/);
    // A file whose tensors are consistent but do not fit the config.
    const params = model.parameters();
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const p of params) {
      const shape = p.name === 'lm_head.weight' ? [p.value.shape[1], p.value.shape[0]] : [...p.value.shape];
      header[p.name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * p.value.size] };
      offset += 4 * p.value.size;
    }
    writeRaw(file, header, new Uint8Array(offset));
    await expect(PolicyModel.load(mdir)).rejects.toThrow(/lm_head\.weight has shape \[\d+,\d+\], the config needs/);
    delete header['lm_head.weight'];
    const rest = params.filter((p) => p.name !== 'lm_head.weight');
    offset = 0;
    for (const p of rest) {
      header[p.name] = { dtype: 'F32', shape: [...p.value.shape], data_offsets: [offset, offset + 4 * p.value.size] };
      offset += 4 * p.value.size;
    }
    writeRaw(file, header, new Uint8Array(offset));
    await expect(PolicyModel.load(mdir)).rejects.toThrow(/lacks lm_head\.weight/);
    model.dispose();
  });
});
