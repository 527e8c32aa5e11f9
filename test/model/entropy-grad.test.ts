/**
 * model.backward(gradLogprobs, gradEntropy): the gradient of sum(gLp * logprobs) + sum(gH * entropy) (entropy
 * bonus / penalty terms of RL losses), on the CPU: central finite differences, linearity, PyTorch float64 for
 * every parameter, bad input. (cuda-model.test.ts runs the same gradient on the GPU against the CPU.)
 */
import * as path from 'path';
import { PolicyModel, Tensor } from '../../lib';
import type { ModelConfigInput } from '../../lib';
import { Rng, seedNote } from '../helpers/random';
import { TORCH_OK, TORCH_SKIP_REASON, finiteDifferenceFailures, randomConfig, randomText, randomizeParameters, relErr, runTorch, tempDir } from './helpers';

const TINY: ModelConfigInput = { dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 48 };

describe('backward with an entropy gradient', () => {
  const rng = new Rng();

  test('central differences of sum(gLp * logprob) + sum(gH * entropy) at temperature 0.8', async () => {
    const model = PolicyModel.create(TINY, { seed: 3 });
    randomizeParameters(model, rng, 0.3);
    const batch = [
      { image: rng.float32(8 * 8 * 3, 0, 1), prompt: 'hi', response: 'yo!' },
      { prompt: 'abc', response: 'de' },
    ];
    const temperature = 0.8;
    const r0 = await model.logprobs(batch, { temperature });
    const [B, T] = r0.logprobs.shape;
    const wl = rng.float32(B * T, -1, 1);
    const wh = rng.float32(B * T, -1, 1);
    const mask = r0.mask.toArray();
    const loss = async () => {
      const r = await model.logprobs(batch, { temperature, entropy: true, grad: false });
      const lp = r.logprobs.toArray();
      const h = r.entropy!.toArray();
      let s = 0;
      for (let i = 0; i < lp.length; i++) if (mask[i]) s += wl[i] * lp[i] + wh[i] * h[i];
      return s;
    };
    model.zeroGrad();
    await model.logprobs(batch, { temperature });
    await model.backward(wl, wh);
    // The entropy is more curved than the log-probs: a smaller step than model.test.ts's keeps the h^2 error
    // small; f32 rounding of the loss (~1e-5) then costs ~3e-3 absolute.
    const keys = [
      'patch_embed.weight',
      'row_embed',
      'embed_tokens',
      'input_layernorm',
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'down_proj',
      'model.norm',
      'lm_head',
    ];
    const failures = await finiteDifferenceFailures(model, keys, loss, rng, { step: 4e-3, abs: 5e-3, rel: 3e-2 });
    expect({ failures, seed: seedNote }).toEqual({ failures: [], seed: seedNote });
    model.dispose();
  });

  test('linear in the two gradients; absent = zero; masked positions ignored', async () => {
    const model = PolicyModel.create(TINY, { seed: 4 });
    randomizeParameters(model, rng, 0.4);
    const batch = [
      { prompt: 'abc', response: 'defg' },
      { prompt: 'x', response: 'y' },
    ];
    const r = await model.logprobs(batch);
    const [B, T] = r.logprobs.shape;
    const mask = r.mask.toArray();
    const g = rng.float32(B * T, -1, 1);
    const h = rng.float32(B * T, -1, 1);
    const grads = () => model.parameters().map((p) => Array.from(p.grad!.toArray()));
    model.zeroGrad();
    await model.backward(g, h);
    const both = grads();
    model.zeroGrad();
    await model.backward(g); // the same saved forward, twice: gradients add up
    await model.backward(new Float32Array(B * T), Tensor.from(h, [B, T]));
    const split = grads();
    both.forEach((x, i) => expect(relErr(split[i], x)).toBeLessThan(1e-5));
    model.zeroGrad();
    await model.backward(g, null);
    const onlyG = grads();
    model.zeroGrad();
    await model.backward(g, new Float32Array(B * T));
    grads().forEach((x, i) => expect(relErr(x, onlyG[i])).toBe(0));
    // Values at masked positions (past a response's end) change nothing.
    const h2 = Float32Array.from(h, (v, i) => (mask[i] ? v : 1e6));
    model.zeroGrad();
    await model.backward(g, h2);
    grads().forEach((x, i) => expect(relErr(x, both[i])).toBe(0));
    model.dispose();
  });

  test('bad gradEntropy: TypeError / RangeError naming it', async () => {
    const model = PolicyModel.create(TINY, { seed: 1 });
    const r = await model.logprobs([
      { prompt: 'a', response: 'bc' },
      { prompt: 'b', response: 'c' },
    ]);
    const n = r.logprobs.size;
    await expect(model.backward(new Float32Array(n), new Float32Array(n + 1))).rejects.toThrow(/gradEntropy has 7 values/);
    await expect(model.backward(new Float32Array(n), Tensor.zeros([3, 2]))).rejects.toThrow(/gradEntropy must have shape \[2, 3\]/);
    await expect(model.backward(new Float32Array(n), [1, 2] as unknown as Float32Array)).rejects.toThrow(TypeError);
    await expect(model.backward(new Float32Array(n), Tensor.zeros([2, 3], { dtype: 'i32' }))).rejects.toThrow(/gradEntropy must have dtype f32/);
    model.dispose();
  });
});

const maybe = TORCH_OK ? describe : describe.skip;
if (!TORCH_OK) test.skip(`PyTorch reference skipped: ${TORCH_SKIP_REASON}`, () => undefined);

maybe('entropy gradient vs PyTorch (float64)', () => {
  const rng = new Rng();
  test.each([0, 1])('random config #%i: every parameter gradient of sum(gLp lp) + sum(gH H)', async () => {
    const config = randomConfig(rng);
    const model = PolicyModel.create(config, { seed: rng.int(0, 1000) });
    randomizeParameters(model, rng);
    const S = config.imageSize;
    const items = [
      { image: rng.float32(S * S * 3, 0, 1), prompt: randomText(rng, rng.int(0, 6)), response: randomText(rng, rng.int(1, 7)) },
      { image: null, prompt: randomText(rng, rng.int(1, 9)), response: Int32Array.from({ length: rng.int(1, 6) }, () => rng.int(0, 260)) },
    ];
    const temperature = rng.uniform(0.5, 1.5);
    const res = await model.logprobs(items, { temperature });
    const [B, T] = res.logprobs.shape;
    const grad = rng.float32(B * T, -1, 1);
    const gradEntropy = rng.float32(B * T, -1, 1);
    await model.backward(grad, gradEntropy);
    const dir = tempDir('entgrad');
    await model.save(dir);
    const enc = (s: string) => Array.from(Buffer.from(s, 'utf8'));
    const answer = runTorch<{ grads: Record<string, number[] | null> }>('check', {
      config: { ...model.config },
      weights: path.join(dir, 'model.safetensors'),
      items: items.map((it) => {
        const resp = typeof it.response === 'string' ? [...enc(it.response), 257] : Array.from(it.response);
        return { image: it.image === null ? null : Array.from(it.image, (v) => 2 * v - 1), text: [256, ...enc(it.prompt), ...resp], respLen: resp.length };
      }),
      temperature,
      grad: Array.from(grad),
      gradEntropy: Array.from(gradEntropy),
    });
    const failures: string[] = [];
    for (const p of model.parameters()) {
      const ref = answer.grads[p.name];
      const e = ref ? relErr(p.grad!.toArray(), ref) : Infinity;
      if (!(e <= 1e-4)) failures.push(`grad ${p.name}: rel err ${e.toExponential(2)}`);
    }
    const why = `${JSON.stringify(config)} ${seedNote}`;
    expect({ failures, why }).toEqual({ failures: [], why });
    model.dispose();
  });
});
