/**
 * Image settings of the built-in model's config: pixel normalisation (imageMean / imageStd, and the statistics
 * the trainer derives them from) and the rotary positions of the image tokens (imagePositions; checked against
 * PyTorch in reference.test.ts, against generation in model.test.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PolicyModel } from '../../lib';
import type { ModelConfigInput } from '../../lib';
import { pixelStatistics } from '../../lib/model/image';
import { Rng, seedNote } from '../helpers/random';
import { randomizeParameters, tempDir } from './helpers';

const TINY: ModelConfigInput = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 32 };
const rng = new Rng();
const N = 8 * 8 * 3;

async function logprobsOf(model: PolicyModel, image: Uint8Array | Float32Array): Promise<number[]> {
  const r = await model.logprobs([{ image, prompt: 'p', response: 'ok' }], { grad: false });
  const out = Array.from(r.logprobs.toArray() as Float32Array);
  r.logprobs.dispose();
  r.mask.dispose();
  return out;
}

describe('imageMean / imageStd', () => {
  test(`(v - mean) / std per channel: a configured model sees what a default model sees of the same values ${seedNote}`, async () => {
    const mean: [number, number, number] = [rng.uniform(0, 0.5), rng.uniform(0, 0.5), rng.uniform(0, 0.5)];
    const std: [number, number, number] = [rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4)];
    const plain = PolicyModel.create(TINY, { seed: 5 });
    randomizeParameters(plain, rng, 0.5);
    const normed = PolicyModel.create({ ...TINY, imageMean: mean, imageStd: std }, { seed: 5 });
    for (const p of plain.parameters()) normed.setParameter(p.name, p.value.toArray() as Float32Array);
    const raw = Uint8Array.from({ length: N }, () => rng.int(0, 256));
    // The default model maps a float v to 2v - 1; feed it the values that make 2v - 1 = (raw/255 - mean) / std.
    const equivalent = Float32Array.from(raw, (x, i) => ((x / 255 - mean[i % 3]) / std[i % 3] + 1) / 2);
    const a = await logprobsOf(normed, raw);
    const b = await logprobsOf(plain, equivalent);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-4));
    // And the statistics matter: the default normalisation of the same bytes gives other log-probs.
    const c = await logprobsOf(plain, raw);
    expect(a.some((v, i) => Math.abs(v - c[i]) > 1e-3)).toBe(true);
    plain.dispose();
    normed.dispose();
  });

  test('defaults are [-1, 1] and the values survive save / load', async () => {
    const model = PolicyModel.create({ ...TINY, imageMean: [0.1, 0.2, 0.3], imageStd: [0.25, 0.5, 1] }, { seed: 1 });
    expect(PolicyModel.create(TINY).config.imageMean).toEqual([0.5, 0.5, 0.5]);
    const dir = tempDir('norm');
    await model.save(dir);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.imageMean).toEqual([0.1, 0.2, 0.3]);
    const loaded = await PolicyModel.load(dir);
    expect(loaded.config.imageStd).toEqual([0.25, 0.5, 1]);
    const img = Uint8Array.from({ length: N }, () => rng.int(0, 256));
    expect(await logprobsOf(loaded, img)).toEqual(await logprobsOf(model, img));
    model.dispose();
    loaded.dispose();
  });

  test('bad values name the key', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ imageMean: [0.5, 0.5] }, /config.imageMean must be an array of 3 finite numbers/],
      [{ imageMean: [0.5, NaN, 0.5] }, /config.imageMean must be an array of 3 finite numbers/],
      [{ imageStd: 0.5 }, /config.imageStd must be an array of 3/],
      [{ imageStd: [0.5, 0, 0.5] }, /config.imageStd must be > 0 in every channel/],
    ];
    for (const [patch, msg] of bad) expect(() => PolicyModel.create({ ...TINY, ...patch } as ModelConfigInput)).toThrow(msg);
  });
});

describe('imagePositions', () => {
  test('moves only items with an image, and is saved with the model', async () => {
    const first = PolicyModel.create(TINY, { seed: 4 });
    randomizeParameters(first, rng, 0.5);
    const moved = PolicyModel.create({ ...TINY, imagePositions: 'before-response' }, { seed: 4 });
    for (const p of first.parameters()) moved.setParameter(p.name, p.value.toArray() as Float32Array);
    const img = Uint8Array.from({ length: N }, () => rng.int(0, 256));
    const lp = async (m: PolicyModel, withImage: boolean) => {
      const r = await m.logprobs([{ image: withImage ? img : null, prompt: 'abc', response: 'xyz' }], { grad: false });
      return Array.from(r.logprobs.toArray() as Float32Array);
    };
    expect(await lp(moved, false)).toEqual(await lp(first, false));
    const a = await lp(moved, true);
    const b = await lp(first, true);
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-4)).toBe(true);
    const dir = tempDir('pos');
    await moved.save(dir);
    const loaded = await PolicyModel.load(dir);
    expect(loaded.config.imagePositions).toBe('before-response');
    expect(await lp(loaded, true)).toEqual(a);
    expect(() => PolicyModel.create({ ...TINY, imagePositions: 'last' as 'first' })).toThrow(
      /config.imagePositions must be 'first', 'before-response' or 'shared', got "last"/,
    );
    for (const m of [first, moved, loaded]) m.dispose();
  });
});

describe('pixelStatistics', () => {
  test(`per-channel mean and std over all pixels of all images, against a float64 two-pass computation ${seedNote}`, () => {
    const images = Array.from({ length: rng.int(1, 5) }, () => Uint8Array.from({ length: 3 * rng.int(1, 200) }, () => rng.int(0, 256)));
    const got = pixelStatistics(images);
    for (let c = 0; c < 3; c++) {
      const v = images.flatMap((im) =>
        Array.from(im)
          .filter((_, i) => i % 3 === c)
          .map((x) => x / 255),
      );
      const m = v.reduce((a, x) => a + x, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / v.length);
      expect(got.mean[c]).toBeCloseTo(m, 10);
      expect(got.std[c]).toBeCloseTo(Math.max(sd, 1 / 255), 8);
    }
  });

  test('a flat channel gets the floor std (no division by zero), no pixel is an error', () => {
    const flat = new Uint8Array(30).fill(40);
    const s = pixelStatistics([flat]);
    expect(s.std).toEqual([1 / 255, 1 / 255, 1 / 255]);
    expect(s.mean[0]).toBeCloseTo(40 / 255, 12);
    expect(() => pixelStatistics([])).toThrow(RangeError);
  });
});
