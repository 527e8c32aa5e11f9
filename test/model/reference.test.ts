/**
 * The built-in model against an independent PyTorch implementation
 * (test/model/torch_reference.py, float64): logits, response log-probs, entropy
 * and the gradient of every parameter, on random small configs.
 */
import * as path from 'path';
import { PolicyModel } from '../../lib';
import { Rng, seedNote } from '../helpers/random';
import { TORCH_OK, TORCH_SKIP_REASON, randomConfig, randomText, randomizeParameters, relErr, runTorch, tempDir } from './helpers';

const TOL = 1e-4;

interface Answer {
  logits: number[][];
  logprobs: number[];
  entropy: number[];
  grads: Record<string, number[] | null>;
}

const maybe = TORCH_OK ? describe : describe.skip;
if (!TORCH_OK) test.skip(`PyTorch reference skipped: ${TORCH_SKIP_REASON}`, () => undefined);

maybe('built-in model vs PyTorch (float64)', () => {
  const rng = new Rng();
  test.each([
    [0, 'first'],
    [1, 'first'],
    [2, 'first'],
    [3, 'before-response'],
    [4, 'before-response'],
    [5, 'shared'],
    [6, 'shared'],
  ] as const)('random config #%i, image positions %s: logits, logprobs, entropy, every gradient', async (_, imagePositions) => {
    const config = { ...randomConfig(rng), imagePositions };
    const model = PolicyModel.create(config, { seed: rng.int(0, 1000) });
    randomizeParameters(model, rng);
    const S = config.imageSize;
    const items = [
      { image: rng.float32(S * S * 3, 0, 1), prompt: randomText(rng, rng.int(0, 6)), response: randomText(rng, rng.int(1, 7)) },
      { image: null, prompt: randomText(rng, rng.int(1, 9)), response: Int32Array.from({ length: rng.int(1, 6) }, () => rng.int(0, 260)) },
      { image: Uint8Array.from({ length: S * S * 3 }, () => rng.int(0, 256)), prompt: 'é?', response: 'ok' },
    ];
    const temperature = rng.uniform(0.5, 1.5);
    const res = await model.logprobs(items, { temperature, entropy: true });
    const [B, T] = res.logprobs.shape;
    const grad = rng.float32(B * T, -1, 1);
    await model.backward(grad);
    const logits = await model.logits(items);

    // The reference reads the very same weights and the same normalised pixels.
    const dir = tempDir('ref');
    await model.save(dir);
    const norm = (im: Float32Array | Uint8Array | null) =>
      im === null ? null : im instanceof Float32Array ? Array.from(im, (v) => 2 * v - 1) : Array.from(im, (v) => v / 127.5 - 1);
    const enc = (s: string) => Array.from(Buffer.from(s, 'utf8'));
    const text = items.map((it) => {
      const resp = typeof it.response === 'string' ? [...enc(it.response), 257] : Array.from(it.response);
      return { ids: [256, ...enc(it.prompt), ...resp], respLen: resp.length };
    });
    const answer = runTorch<Answer>('check', {
      config: { ...model.config },
      weights: path.join(dir, 'model.safetensors'),
      items: items.map((it, b) => ({ image: norm(it.image), text: text[b].ids, respLen: text[b].respLen })),
      temperature,
      grad: Array.from(grad),
    });

    const why = `${JSON.stringify(config)} ${seedNote}`;
    const lg = logits.toArray();
    const [, L, V] = logits.shape;
    const failures: string[] = [];
    const check = (what: string, got: ArrayLike<number>, ref: ArrayLike<number>) => {
      const e = relErr(got, ref);
      if (!(e <= TOL)) failures.push(`${what}: rel err ${e.toExponential(2)}`);
    };
    answer.logits.forEach((row, b) => check(`logits[${b}]`, lg.subarray(b * L * V, b * L * V + row.length), row));
    const mask = res.mask.toArray();
    const lp = res.logprobs.toArray();
    const ent = res.entropy!.toArray();
    for (let i = 0; i < B * T; i++) expect(mask[i]).toBe(i % T < text[Math.floor(i / T)].respLen ? 1 : 0);
    check('logprobs', lp, answer.logprobs);
    check('entropy', ent, answer.entropy);
    for (const p of model.parameters()) {
      const ref = answer.grads[p.name];
      if (!ref) failures.push(`${p.name}: no reference gradient`);
      else check(`grad ${p.name}`, p.grad!.toArray(), ref);
    }
    expect({ failures, why }).toEqual({ failures: [], why });
    model.dispose();
  });
});
