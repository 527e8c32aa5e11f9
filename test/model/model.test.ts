/**
 * The built-in model's behaviour: finite differences, KV-cache generation,
 * reproducibility, save/load, AdamW, learning a small task, images, bad input.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { AdamW, PolicyModel, backends, meanNllGradient } from '../../lib';
import type { ModelConfigInput } from '../../lib';
import { loadImage } from '../../lib/model/image';
import { Rng, seedNote } from '../helpers/random';
import { colourTask, finiteDifferenceFailures, randomText, randomizeParameters, tempDir, trainSupervised } from './helpers';

const TINY: ModelConfigInput = { dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 48 };
const rng = new Rng();

function rgb(size: number, r: number, g: number, b: number): Uint8Array {
  const a = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) a.set([r, g, b], i * 3);
  return a;
}

describe('gradients by finite differences (float64 evaluation of the f32 model)', () => {
  test('central differences on entries of every kind of parameter', async () => {
    const model = PolicyModel.create(TINY, { seed: 3 });
    randomizeParameters(model, rng, 0.4);
    const batch = [
      { image: rng.float32(8 * 8 * 3, 0, 1), prompt: 'hi', response: 'yo!' },
      { prompt: 'abc', response: 'de' },
    ];
    const w0 = await model.logprobs(batch);
    const [B, T] = w0.logprobs.shape;
    const weights = rng.float32(B * T, -1, 1);
    const mask = w0.mask.toArray();
    const loss = async () => {
      const r = await model.logprobs(batch, { grad: false });
      const lp = r.logprobs.toArray();
      let s = 0;
      for (let i = 0; i < lp.length; i++) if (mask[i]) s += weights[i] * lp[i];
      return s;
    };
    model.zeroGrad();
    await model.logprobs(batch);
    await model.backward(weights);
    const names = [
      'patch_embed.weight',
      'patch_embed.bias',
      'row_embed',
      'col_embed',
      'embed_tokens',
      'input_layernorm',
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'post_attention',
      'gate_proj',
      'up_proj',
      'down_proj',
      'model.norm',
      'lm_head',
    ];
    // f32 forward: differences are good to ~1e-3 of the loss scale; the h^2 error needs a step well below 1e-2.
    const failures = await finiteDifferenceFailures(model, names, loss, rng, { step: 2e-3, abs: 2e-3, rel: 3e-2 });
    expect({ failures, seed: seedNote }).toEqual({ failures: [], seed: seedNote });
    model.dispose();
  });
});

// Both rotary layouts of the image tokens: generation's cache, recomputation and logprobs() must agree in each.
describe.each(['first', 'before-response', 'shared'] as const)('generation (image positions %s)', (imagePositions) => {
  const model = PolicyModel.create({ ...TINY, maxSeqLen: 40, imagePositions }, { seed: 11 });
  randomizeParameters(model, new Rng(1234), 0.5);
  const inputs = [{ image: rgb(8, 200, 10, 10), prompt: 'q1' }, { prompt: 'a longer prompt' }];
  afterAll(() => model.dispose());

  test('KV-cached sampling equals sampling by full recomputation', async () => {
    for (const temperature of [0, 0.8]) {
      const opts = { maxNewTokens: 12, n: 3, seed: 77, temperature, topP: 0.9 };
      const cached = await model.generate(inputs, opts);
      const full = await model.generate(inputs, { ...opts, useCache: false });
      for (let i = 0; i < inputs.length; i++)
        for (let j = 0; j < 3; j++) {
          expect(Array.from(cached[i][j].tokens)).toEqual(Array.from(full[i][j].tokens));
          cached[i][j].logprobs.forEach((v, k) => expect(Math.abs(v - full[i][j].logprobs[k])).toBeLessThan(1e-4));
        }
    }
  });

  test('returned log-probs equal model.logprobs of the same response', async () => {
    const temperature = 0.7;
    const out = await model.generate(inputs, { maxNewTokens: 10, n: 2, seed: 5, temperature });
    const batch = out.flatMap((samples, i) => samples.map((s) => ({ ...inputs[i], response: s.tokens })));
    const r = await model.logprobs(batch, { temperature, grad: false });
    const lp = r.logprobs.toArray();
    const T = r.logprobs.shape[1];
    batch.forEach((b, k) => {
      const s = out[Math.floor(k / 2)][k % 2];
      expect(s.tokens.length).toBeGreaterThan(0);
      s.logprobs.forEach((v, t) => expect(Math.abs(v - lp[k * T + t])).toBeLessThan(1e-4));
    });
  });

  test('same seed, same samples; another seed, other samples; n samples differ', async () => {
    const a = await model.generate(inputs, { maxNewTokens: 8, n: 4, seed: 9 });
    const b = await model.generate(inputs, { maxNewTokens: 8, n: 4, seed: 9 });
    const c = await model.generate(inputs, { maxNewTokens: 8, n: 4, seed: 10 });
    const flat = (x: typeof a) => x.flat().map((s) => Array.from(s.tokens).join(','));
    expect(flat(a)).toEqual(flat(b));
    expect(flat(a)).not.toEqual(flat(c));
    expect(new Set(flat(a).slice(0, 4)).size).toBeGreaterThan(1);
  });

  test('stop strings, eos, length limits and the context end a sample', async () => {
    const out = await model.generate([{ prompt: 'x' }], { maxNewTokens: 30, n: 8, seed: 1, temperature: 1.5, stop: ['a', 'e', 'i', 'o'] });
    for (const s of out[0]) {
      expect(s.tokens.length).toBe(s.logprobs.length);
      if (s.finishReason === 'stop') {
        expect('aeio').toContain(String.fromCharCode(s.tokens[s.tokens.length - 1]));
        expect(s.text).not.toMatch(/[aeio]$/);
      } else if (s.finishReason === 'eos') expect(s.tokens[s.tokens.length - 1]).toBe(257);
      else expect(s.tokens.length).toBe(30);
    }
    // maxSeqLen 40: 4 image tokens (8 x 8 in patches of 4) + bos + 2 prompt bytes leave room for 33 tokens.
    const long = await model.generate([inputs[0]], { maxNewTokens: 100, seed: 2, temperature: 0 });
    const s0 = long[0][0];
    expect(s0.finishReason === 'eos' ? s0.tokens[s0.tokens.length - 1] : s0.tokens.length).toBe(s0.finishReason === 'eos' ? 257 : 33);
    const none = await model.generate([inputs[1]], { maxNewTokens: 0 });
    expect(none[0][0].tokens.length).toBe(0);
  });
});

describe('training', () => {
  test('same seed, same parameters and same training trajectory', async () => {
    const run = async () => {
      const model = PolicyModel.create(TINY, { seed: 42 });
      const opt = new AdamW(model, { lr: 1e-2 });
      const batch = [
        { image: rgb(8, 1, 2, 3), prompt: 'p', response: 'resp' },
        { prompt: 'q', response: 'other' },
      ];
      for (let s = 0; s < 3; s++) {
        const r = await model.logprobs(batch);
        await model.backward(meanNllGradient(r).grad);
        opt.step();
        model.zeroGrad();
      }
      const out = model.parameters().map((p) => Array.from(p.value.toArray()));
      model.dispose();
      opt.dispose();
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    const other = PolicyModel.create(TINY, { seed: 43 });
    expect(Array.from(other.parameters()[4].value.toArray())).not.toEqual(a[4]);
    other.dispose();
  });

  test('`using` disposes the model and the optimizer when the block ends, also when it throws', () => {
    let kept: { model: PolicyModel; opt: AdamW } | undefined;
    expect(() => {
      using model = PolicyModel.create(TINY, { seed: 1 });
      using opt = new AdamW(model, { lr: 1e-2 });
      kept = { model, opt };
      throw new Error('boom');
    }).toThrow('boom');
    expect(kept!.model.disposed).toBe(true);
    expect(() => kept!.model.parameters()).toThrow(/disposed/);
  });

  test('AdamW matches a float64 reference (decay on 2-D weights only, bias correction, clipping)', async () => {
    const model = PolicyModel.create(TINY, { seed: 1 });
    const batch = [{ prompt: 'abc', response: 'xyz' }];
    const r = await model.logprobs(batch);
    await model.backward(meanNllGradient(r).grad);
    const params = model.parameters();
    const p0 = params.map((p) => Float64Array.from(p.value.toArray()));
    const g = params.map((p) => Float64Array.from(p.grad!.toArray()));
    let norm = 0;
    for (const x of g) for (const v of x) norm += v * v;
    norm = Math.sqrt(norm);
    const maxGradNorm = norm / 3; // forces clipping
    const o = { lr: 0.01, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.1, maxGradNorm };
    const opt = new AdamW(model, o);
    const s1 = opt.step();
    const s2 = opt.step(); // the same gradients again
    expect(s1.skipped).toBe(false);
    expect(Math.abs(s1.gradNorm - norm) / norm).toBeLessThan(1e-5);
    expect(Math.abs(s2.gradNorm - norm) / norm).toBeLessThan(1e-5);
    const c = maxGradNorm / (norm + 1e-6);
    params.forEach((p, i) => {
      const ref = Float64Array.from(p0[i]);
      const m = new Float64Array(ref.length);
      const v = new Float64Array(ref.length);
      const wd = p.decay ? o.weightDecay : 0;
      for (let t = 1; t <= 2; t++) {
        for (let k = 0; k < ref.length; k++) {
          const gk = g[i][k] * c;
          m[k] = o.betas[0] * m[k] + (1 - o.betas[0]) * gk;
          v[k] = o.betas[1] * v[k] + (1 - o.betas[1]) * gk * gk;
          const mh = m[k] / (1 - o.betas[0] ** t);
          const vh = v[k] / (1 - o.betas[1] ** t);
          ref[k] = ref[k] * (1 - o.lr * wd) - (o.lr * mh) / (Math.sqrt(vh) + o.eps);
        }
      }
      const got = p.value.toArray();
      for (let k = 0; k < ref.length; k++) expect(Math.abs(got[k] - ref[k])).toBeLessThan(2e-6 + 1e-5 * Math.abs(ref[k]));
    });
    expect(params.find((p) => p.name === 'model.norm.weight')!.decay).toBe(false);
    expect(params.find((p) => p.name === 'lm_head.weight')!.decay).toBe(true);
    // A non-finite gradient skips the step and leaves everything as it was.
    const before = Array.from(params[1].value.toArray());
    model.zeroGrad();
    const bad = new Float32Array(params[0].value.size);
    bad[0] = NaN;
    model.setParameter(params[0].name, params[0].value.toArray() as Float32Array);
    const r2 = await model.logprobs(batch);
    await model.backward(new Float32Array(r2.logprobs.size).fill(NaN));
    const s3 = opt.step();
    expect(s3.skipped).toBe(true);
    expect(Array.from(params[1].value.toArray())).toEqual(before);
    opt.dispose();
    model.dispose();
  });

  test('a tiny model learns an image-conditioned task (loss falls well below its start)', async () => {
    const model = PolicyModel.create({ dModel: 32, nLayers: 2, nHeads: 4, dFF: 64, imageSize: 8, patchSize: 4, maxSeqLen: 64 }, { seed: 7 });
    const opt = new AdamW(model, { lr: 3e-3, weightDecay: 0 });
    const data = colourTask(8);
    const { first, last } = await trainSupervised(model, opt, data, 150);
    expect(first).toBeGreaterThan(4); // ~ln 260 at the start
    expect(last).toBeLessThan(0.1 * first);
    // It now answers from the image: greedy decoding gives each colour.
    const out = await model.generate(
      data.map(({ image, prompt }) => ({ image, prompt })),
      { temperature: 0, maxNewTokens: 8 },
    );
    expect(out.map((s) => s[0].text)).toEqual(['red', 'blue', 'green']);
    expect(out.every((s) => s[0].finishReason === 'eos')).toBe(true);
    opt.dispose();
    model.dispose();
  });
});

describe('memory', () => {
  test('flat over many training steps; a no-grad call keeps the saved activations', async () => {
    const model = PolicyModel.create(TINY, { seed: 4 });
    const opt = new AdamW(model);
    const batch = [
      { image: rgb(8, 9, 9, 9), prompt: 'abc', response: 'defgh' },
      { prompt: 'z', response: 'y' },
    ];
    const step = async () => {
      const r = await model.logprobs(batch);
      await model.logprobs(batch, { grad: false }).then((x) => (x.logprobs.dispose(), x.mask.dispose()));
      await model.backward(meanNllGradient(r).grad);
      r.logprobs.dispose();
      r.mask.dispose();
      opt.step();
      model.zeroGrad();
    };
    for (let i = 0; i < 50; i++) await step();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) await step();
    const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
    expect(grown).toBeLessThan(16);
    opt.dispose();
    model.dispose();
  });
});

describe('save / load and images', () => {
  test('save then load gives the same model; files are complete, no temporaries left', async () => {
    const model = PolicyModel.create(TINY, { seed: 5 });
    randomizeParameters(model, rng);
    const dir = tempDir('save');
    await model.save(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const tok = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(tok.specialTokens).toEqual({ bos: 256, eos: 257, pad: 258, image: 259 });
    const loaded = await PolicyModel.load(dir);
    expect(loaded.config).toEqual(model.config);
    const batch = [{ image: rng.float32(192, 0, 1), prompt: 'x', response: 'y' }];
    const a = await model.logprobs(batch, { grad: false });
    const b = await loaded.logprobs(batch, { grad: false });
    expect(Array.from(b.logprobs.toArray())).toEqual(Array.from(a.logprobs.toArray()));
    // Saving over an existing folder replaces the files.
    await loaded.save(dir);
    expect(fs.readdirSync(dir).length).toBe(3);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(4));
    await expect(PolicyModel.load(dir)).rejects.toThrow(/not a safetensors file/);
    model.dispose();
    loaded.dispose();
  });

  test('load refuses before allocating: huge sizes, another architecture, a corrupt config; and non-finite weights', async () => {
    const model = PolicyModel.create(TINY, { seed: 5 });
    const dir = tempDir('refuse');
    await model.save(dir);
    const configFile = path.join(dir, 'config.json');
    const saved = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    expect(saved.architecture).toBe('stable-reinforce-vlm');
    // A tiny config.json asking for a million layers (~74 GB): refused by the size check, before any allocation.
    fs.writeFileSync(configFile, JSON.stringify({ ...saved, nLayers: 1e6 }));
    await expect(PolicyModel.load(dir)).rejects.toThrow(new RangeError('config.nLayers must be an integer from 1 to 1024, got 1000000'));
    fs.writeFileSync(configFile, JSON.stringify({ ...saved, architecture: 'llama' }));
    await expect(PolicyModel.load(dir)).rejects.toThrow(/config.json is of architecture "llama"; this version reads "stable-reinforce-vlm"/);
    fs.writeFileSync(configFile, '{"dModel": 32,');
    await expect(PolicyModel.load(dir)).rejects.toThrow(/cannot read .*config\.json/);
    fs.writeFileSync(configFile, JSON.stringify(saved));
    // Weights with a NaN: an error naming the tensor and the index (every output would be NaN).
    const name = model.parameters()[3].name;
    const w = new Float32Array(model.parameters()[3].value.size).fill(0.01);
    w[5] = NaN;
    model.setParameter(name, w);
    await model.save(dir);
    await expect(PolicyModel.load(dir)).rejects.toThrow(
      new RangeError(`PolicyModel.load: ${dir}/model.safetensors: ${name}[5] is NaN: the weights must be finite (a diverged or corrupt checkpoint)`),
    );
    // Shared memory is accepted (copied) rather than failing in the native core.
    const shared = new Float32Array(new SharedArrayBuffer(w.byteLength));
    shared.fill(0.25);
    model.setParameter(name, shared);
    expect(Array.from(model.parameters()[3].value.toArray().slice(0, 2))).toEqual([0.25, 0.25]);
    model.dispose();
  });

  test('PNG path, PNG/JPEG Buffer and raw pixels give the same input; resizing works', async () => {
    const model = PolicyModel.create(TINY, { seed: 2 });
    randomizeParameters(model, rng);
    const raw = Uint8Array.from({ length: 8 * 8 * 3 }, () => rng.int(0, 256));
    const png = await sharp(Buffer.from(raw), { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .toBuffer();
    const file = path.join(tempDir('img'), 'x.png');
    fs.writeFileSync(file, png);
    const lp = async (image: unknown) =>
      Array.from((await model.logprobs([{ image: image as Uint8Array, prompt: 'p', response: 'r' }], { grad: false })).logprobs.toArray());
    const fromRaw = await lp(raw);
    expect(await lp(png)).toEqual(fromRaw);
    expect(await lp(file)).toEqual(fromRaw);
    const floats = Float32Array.from(raw, (v) => v / 255);
    (await lp(floats)).forEach((v, i) => expect(Math.abs(v - fromRaw[i])).toBeLessThan(1e-5));
    // A big JPEG is resized to 8 x 8: the model's input is the flat colour, up to JPEG's colour error (a few levels).
    const big = await sharp({ create: { width: 50, height: 30, channels: 3, background: '#3366cc' } })
      .jpeg()
      .toBuffer();
    (await lp(big)).forEach((v, i, a) => expect(Number.isFinite(v) && a.length === 2).toBe(true));
    const pixels = await loadImage(big, 8, 'big');
    expect(pixels).toHaveLength(8 * 8 * 3);
    pixels.forEach((v, i) => expect(Math.abs(v - ([0x33, 0x66, 0xcc][i % 3] / 127.5 - 1))).toBeLessThan(6 / 127.5));
    model.dispose();
  });
});

describe('bad input', () => {
  test('invalid configs name the key', () => {
    const bad: Array<[Partial<ModelConfigInput> & Record<string, unknown>, RegExp]> = [
      [{ dModel: 18 }, /nHeads \(4\) must divide config.dModel \(18\)/],
      [{ nKvHeads: 3 }, /nKvHeads \(3\) must divide/],
      [{ patchSize: 3 }, /patchSize \(3\) must divide config.imageSize/],
      [{ maxSeqLen: 5 }, /maxSeqLen \(5\) must exceed the 4 image tokens/],
      [{ nLayers: 0 }, /nLayers must be an integer from 1 to 1024/],
      [{ nLayers: 1e6 }, /config.nLayers must be an integer from 1 to 1024, got 1000000/],
      [{ imageSize: 65536 * 4, patchSize: 65536 }, /config.imageSize must be an integer from 1 to 4096/],
      [{ dModel: 2 ** 40 }, /config.dModel must be an integer from 1 to 32768/],
      [{ dModel: 32768, nHeads: 4, nKvHeads: 4, nLayers: 1024, dFF: 131072 }, /parameters .*more than the limit of 4294967296/],
      [{ maxSeqLen: 2 ** 20, dModel: 4096, nHeads: 2, nKvHeads: 2 }, /maxSeqLen \(1048576\) x the head size \(2048\) must be at most/],
      [{ dFF: 2.5 }, /dFF must be an integer/],
      [{ dModel: 12, nHeads: 4, nKvHeads: 4 }, /head size, 3\) must be even/],
      [{ vocabSize: 300 }, /vocabSize 300 does not match the tokenizer's 260 tokens/],
      [{ vocabSize: 100 }, /vocabSize must be from 260/],
      [{ dmodel: 16 }, /config.dmodel is not a model config key/],
      [{ imageSize: undefined }, /config.imageSize must be a number, got nothing/],
    ];
    for (const [patch, msg] of bad) expect(() => PolicyModel.create({ ...TINY, ...patch } as ModelConfigInput)).toThrow(msg);
    if (!backends().cuda.usable) expect(() => PolicyModel.create(TINY, { device: 'cuda' })).toThrow(/'cuda' was requested but CUDA is not usable/);
    expect(() => PolicyModel.create(TINY, { device: 'gpu' as 'cuda' })).toThrow(TypeError);
    expect(() => PolicyModel.create(TINY, { matmulPrecision: 'fp16' as 'tf32' })).toThrow(/options.matmulPrecision/);
    expect(() => PolicyModel.create(TINY, { seed: -1 })).toThrow(TypeError);
  });

  test('images of the wrong size or format, long prompts, bad batches', async () => {
    const model = PolicyModel.create(TINY, { seed: 1 });
    await expect(model.logprobs([{ image: new Uint8Array(10), prompt: 'a', response: 'b' }])).rejects.toThrow(
      /batch\[0\]\.image has 10 bytes; a raw image must be 8 x 8 x 3 = 192/,
    );
    await expect(model.logprobs([{ image: new Float32Array(191), prompt: 'a', response: 'b' }])).rejects.toThrow(RangeError);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
      .gif()
      .toBuffer();
    await expect(model.logprobs([{ image: gif, prompt: 'a', response: 'b' }])).rejects.toThrow(/is gif; PNG or JPEG expected/);
    await expect(model.logprobs([{ image: Buffer.from('not an image'), prompt: 'a', response: 'b' }])).rejects.toThrow(/could not be read as an image/);
    await expect(model.logprobs([{ image: '/no/such/file.png', prompt: 'a', response: 'b' }])).rejects.toThrow(TypeError);
    const long = 'x'.repeat(40);
    await expect(model.logprobs([{ prompt: long, response: 'abcdefgh' }])).rejects.toThrow(/longer than the context \(maxSeqLen 48/);
    // 4 image tokens + bos + 44 bytes = 49 > 48 - 1 (room for one new token)
    await expect(model.generate([{ image: rgb(8, 0, 0, 0), prompt: 'x'.repeat(44) }])).rejects.toThrow(/longer than the context/);
    expect((await model.generate([{ image: rgb(8, 0, 0, 0), prompt: 'x'.repeat(42) }], { maxNewTokens: 5, seed: 1 }))[0][0].tokens.length).toBe(1);
    await expect(model.logprobs([{ prompt: 'a', response: [1, 300] }])).rejects.toThrow(/response\[1\] = 300/);
    await expect(model.logprobs([{ prompt: 'a', response: [1, '2' as unknown as number] }])).rejects.toThrow(
      new TypeError('batch[0].response[1] must be a token id (a number), got string'),
    );
    // NaN or infinite raw pixels are an error (they would make every output NaN).
    const px = new Float32Array(192).fill(0.5);
    px[7] = NaN;
    await expect(model.logprobs([{ image: px, prompt: 'a', response: 'b' }])).rejects.toThrow(
      new RangeError('batch[0].image[7] is NaN: raw pixels must be finite (RGB values in [0, 1])'),
    );
    await expect(model.logprobs([])).rejects.toThrow(/batch is empty/);
    await expect(model.logprobs([{ prompt: 3 as unknown as string, response: 'a' }])).rejects.toThrow(/prompt must be a string/);
    await expect(model.backward(new Float32Array(3))).rejects.toThrow(/needs a forward pass first/);
    const r = await model.logprobs([
      { prompt: 'a', response: 'bc' },
      { prompt: 'b', response: 'c' },
    ]);
    expect(r.logprobs.shape).toEqual([2, 3]);
    await expect(model.backward(new Float32Array(5))).rejects.toThrow(/\[2, 3\] = 6/);
    const { Tensor } = await import('../../lib');
    await expect(model.backward(Tensor.zeros([3, 2]))).rejects.toThrow(/must have shape \[2, 3\]/);
    await expect(model.generate([{ prompt: 'a' }], { topP: 0 })).rejects.toThrow(/topP/);
    await expect(model.generate([{ prompt: 'a' }], { n: 0 })).rejects.toThrow(/options.n/);
    await expect(model.logprobs([{ prompt: 'a', response: 'b' }], { temperature: 0 })).rejects.toThrow(/temperature/);
    expect(() => model.setParameter('nope', new Float32Array(1))).toThrow(/no parameter named/);
    expect(() => model.setParameter('lm_head.weight', new Float32Array(3))).toThrow(/expected 4160 values/);
    model.dispose();
    await expect(model.logprobs([{ prompt: 'a', response: 'b' }])).rejects.toThrow(/disposed/);
  });

  test('calls are queued: a second call waits for the first, AdamW refuses to run meanwhile', async () => {
    const model = PolicyModel.create(TINY, { seed: 1 });
    const opt = new AdamW(model);
    const batch = [{ prompt: 'abc', response: randomText(rng, 10) }];
    const p1 = model.logprobs(batch);
    const p2 = model.generate([{ prompt: 'x' }], { maxNewTokens: 4, seed: 1 });
    expect(() => opt.step()).toThrow(/has a call running/);
    const [r] = await Promise.all([p1, p2]);
    await model.backward(meanNllGradient(r).grad);
    expect(opt.step().skipped).toBe(false);
    opt.dispose();
    model.dispose();
  });
});

describe('AdamW state', () => {
  test('state() and loadState() round-trip: a restored optimizer takes the identical next step', async () => {
    const { AdamW, PolicyModel } = await import('../../lib/model');
    type Model = ReturnType<typeof PolicyModel.create>;
    const cfg = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 16, patchSize: 8, maxSeqLen: 64 };
    const batch = [{ image: null, prompt: 'ab', response: 'cd' }];
    const step = async (m: Model, o: InstanceType<typeof AdamW>) => {
      const lp = await m.logprobs(batch);
      await m.backward(new Float32Array(lp.logprobs.size).fill(-1));
      o.step();
      m.zeroGrad();
    };
    const a = PolicyModel.create(cfg, { seed: 1 });
    const b = PolicyModel.create(cfg, { seed: 1 });
    const oa = new AdamW(a, { lr: 1e-2 });
    const ob = new AdamW(b, { lr: 1e-2 });
    await step(a, oa);
    await step(b, ob); // b now equals a; scramble b's moments, then restore them from a
    ob.loadState({ ...oa.state(), moments: oa.state().moments.map((x) => ({ ...x, m: x.m.map(() => 1), v: x.v.map(() => 1) })) });
    expect(ob.state().moments[0].m[0]).toBe(1);
    ob.loadState(oa.state());
    expect(Array.from(ob.state().moments[0].v)).toEqual(Array.from(oa.state().moments[0].v));
    await step(a, oa);
    await step(b, ob);
    const pa = a.parameters();
    const pb = b.parameters();
    for (let i = 0; i < pa.length; i++) expect(Array.from(pb[i].value.toArray())).toEqual(Array.from(pa[i].value.toArray()));
    expect(ob.stepCount).toBe(2);
    expect(() => ob.loadState({ stepCount: 1, moments: [] })).toThrow(RangeError);
    const bad = oa.state();
    bad.moments[0] = { ...bad.moments[0], m: new Float32Array(1) };
    expect(() => ob.loadState(bad)).toThrow(/Float32Array of/);
    for (const x of [a, b]) x.dispose();
  });
});
