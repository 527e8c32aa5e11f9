/**
 * Non-finite steps never reach the weights: a NaN/Inf loss skips backward, a NaN gradient makes AdamW skip,
 * and a normal step does change the weights (so the checks below can fail).
 */
import { AdamW, PolicyModel } from '../../lib/model';
import { RuleBasedJudge } from '../../lib/rewards/judge';
import { createRewardStats } from '../../lib/rewards/combine';
import { DEFAULTS } from '../../lib/train/config';
import { rlStep } from '../../lib/train/rl';
import { cosineLr, guardedUpdate, sftStep } from '../../lib/train/update';
import type { TrainRow } from '../../lib/train/dataset';

const CFG = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 8, patchSize: 4, maxSeqLen: 96 };

function snapshot(model: PolicyModel): Float32Array[] {
  return model.parameters().map((p) => Float32Array.from(p.value.toArray() as Float32Array));
}

function changed(a: Float32Array[], b: Float32Array[]): number {
  let n = 0;
  a.forEach((x, i) => x.forEach((v, j) => (n += Object.is(v, b[i][j]) ? 0 : 1)));
  return n;
}

function example(i: number) {
  const image = new Uint8Array(8 * 8 * 3).map((_, j) => (j * 7 + i * 13) % 256);
  return { image, prompt: `Q: question ${i}\n`, response: `<think>analysis ${i}</think><answer>${1 + (i % 2)}</answer>` };
}

describe('guarded updates', () => {
  let model: PolicyModel;
  let opt: AdamW;
  beforeEach(() => {
    model = PolicyModel.create(CFG, { seed: 3 });
    opt = new AdamW(model, { lr: 1e-2 });
  });
  afterEach(() => {
    opt.dispose();
    model.dispose();
  });

  test('a normal SFT step changes the weights', async () => {
    const before = snapshot(model);
    const r = await sftStep(model, opt, [example(0), example(1)]);
    expect(r.skipped).toBe(false);
    expect(Number.isFinite(r.gradNorm)).toBe(true);
    expect(r.tokens).toBeGreaterThan(10);
    expect(changed(before, snapshot(model))).toBeGreaterThan(100);
    expect(opt.stepCount).toBe(1);
  });

  test('a NaN gradient is skipped: weights, moments and step count unchanged', async () => {
    await sftStep(model, opt, [example(0)]); // non-zero moments, so "unchanged" covers them too
    const before = snapshot(model);
    const r = await sftStep(model, opt, [example(1), example(2)], true);
    expect(r).toMatchObject({ skipped: true, reason: 'grad-norm' });
    expect(Number.isFinite(r.gradNorm)).toBe(false);
    expect(changed(before, snapshot(model))).toBe(0);
    expect(opt.stepCount).toBe(1);
    // The next good step works from the same state as if the bad one had never happened.
    const r2 = await sftStep(model, opt, [example(1)]);
    expect(r2.skipped).toBe(false);
    expect(changed(before, snapshot(model))).toBeGreaterThan(0);
    for (const p of snapshot(model)) expect(p.every(Number.isFinite)).toBe(true);
  });

  test.each([NaN, Infinity, -Infinity])('a loss of %p is skipped before backward', async (loss) => {
    const before = snapshot(model);
    const lp = await model.logprobs([example(0)]);
    const grad = new Float32Array(lp.logprobs.size).fill(1);
    const r = await guardedUpdate(model, opt, loss, grad);
    expect(r).toMatchObject({ skipped: true, reason: 'loss' });
    expect(changed(before, snapshot(model))).toBe(0);
    expect(opt.stepCount).toBe(0);
    for (const p of model.parameters()) expect((p.grad!.toArray() as Float32Array).every((g) => g === 0)).toBe(true);
  });

  test('an RL step whose gradients are not finite leaves the weights alone and reports it', async () => {
    const rows: TrainRow[] = [0, 1].map((i) => ({ index: i, id: `r${i}`, image: 'x.png', question: `q${i}`, response1: 'a', response2: 'b', label: 1 }));
    // Every rollout trained (no dynamic filter), no KL (no reference): 4 sequences, AdamW steps of 2 in micro-batches of 1.
    const rl = { ...DEFAULTS.rl, samplesPerPrompt: 2, ppoEpochs: 2, rolloutsPerUpdate: 2, miniBatchSize: 1, dynamicFilter: false, klCoef: 0, maxNewTokens: 12 };
    const ctx = {
      model,
      ref: null,
      opt,
      judge: new RuleBasedJudge(),
      rewardStats: createRewardStats(),
      rl,
      seed: 1,
      input: (r: TrainRow) => ({ image: example(r.index).image, prompt: example(r.index).prompt }),
    };
    const before = snapshot(model);
    const m = await rlStep(ctx, 0, rows, true);
    expect(m.updates).toBe(4); // 4 sequences, updates of 2, 2 epochs
    expect(m.skippedUpdates).toBe(4);
    expect(m.skipReasons).toEqual(['grad-norm']);
    expect(m.gradNorm).toBeNull();
    expect(changed(before, snapshot(model))).toBe(0);
    expect(opt.stepCount).toBe(0);
  });

  test('learning-rate schedule: warmup, then cosine down to the floor', () => {
    expect(cosineLr(0, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
    expect(cosineLr(9, 100, 1, 10, 0.1)).toBeCloseTo(1);
    expect(cosineLr(10, 100, 1, 10, 0.1)).toBeCloseTo(1);
    expect(cosineLr(55, 100, 1, 10, 0.1)).toBeCloseTo(0.55);
    expect(cosineLr(100, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
  });
});
