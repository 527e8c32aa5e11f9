/**
 * Stage 2's update (rl.ts): micro-batches accumulated into one AdamW step, the KL term in the loss, and the step's
 * glue (the dynamic filter's kept rollouts and their RLOO advantages are what the loss sees), each against a direct
 * reference: the loss and its gradient written out in float64 here, finite differences, and one policyLoss over
 * the whole batch.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng, hashSeed } from '../../lib/data/rng';
import * as kernels from '../../lib/kernels';
import { AdamW, PolicyModel, type ModelExample } from '../../lib/model';
import { trainBpe } from '../../lib/model/tokenizer';
import { computeReward, createRewardStats } from '../../lib/rewards/combine';
import { RuleBasedJudge } from '../../lib/rewards/judge';
import { DEFAULTS, type RlConfig } from '../../lib/train/config';
import type { TrainRow } from '../../lib/train/dataset';
import { accumulatePolicyGradient, computeAdvantages, rlLearningRate, rlStep, type PolicyLossOptions, type RolloutBatch } from '../../lib/train/rl';
import { sftStep } from '../../lib/train/update';

const CFG = { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, imageSize: 8, patchSize: 4, maxSeqLen: 64 };
const response = (v: 1 | 2) => `<think>ok</think><answer>${v}</answer>`;
// A judge in miniature: "one" is answered 1, "two" 2, "any" either way (its label is a coin).
const PROMPTS = { one: 'Q: one\n', two: 'Q: two\n', any: 'Q: any\n' } as const;
type Kind = keyof typeof PROMPTS;

let dir: string;

/** The tiny judge: SFT until it writes the format and answers "one"/"two" as told and "any" at random. */
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-rl-update-'));
  const texts = Array.from({ length: 20 }, () => [...Object.values(PROMPTS), response(1), response(2)]).flat();
  const model = PolicyModel.create(CFG, { seed: 5, tokenizer: trainBpe(texts, { merges: 40 }) });
  const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0 });
  const batch: ModelExample[] = [
    ...[0, 1].flatMap(() => [
      { image: null, prompt: PROMPTS.one, response: response(1) },
      { image: null, prompt: PROMPTS.two, response: response(2) },
    ]),
    { image: null, prompt: PROMPTS.any, response: response(1) },
    { image: null, prompt: PROMPTS.any, response: response(2) },
  ];
  for (let step = 0; step < 150; step++) await sftStep(model, opt, batch);
  await model.save(dir);
  opt.dispose();
  model.dispose();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = () => PolicyModel.load(dir);

/** A stage-1 reference that differs from the policy (else the KL and its gradient are 0 at the first step). */
async function loadRef(): Promise<PolicyModel> {
  const m = await load();
  const rng = new Rng(17);
  for (const p of m.parameters())
    m.setParameter(
      p.name,
      (p.value.toArray() as Float32Array).map((v) => v + 0.05 * (rng.float() - 0.5)),
    );
  return m;
}

function grads(model: PolicyModel): Float64Array {
  const parts = model.parameters().map((p) => p.grad!.toArray() as Float32Array);
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function weights(model: PolicyModel): Float64Array {
  const parts = model.parameters().map((p) => p.value.toArray() as Float32Array);
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

const OPTS: PolicyLossOptions = { miniBatchSize: 4, temperature: 1, clipEps: 0.2, minRatio: 1e-3, maxRatio: 1e3, klCoef: 0.1, klEstimator: 'k3' };

/**
 * policyLoss of `rows` written out in float64 (Pre-CLIP, PPO clip, k3 KL; mean over each sequence's tokens, then
 * over the rows): the loss and d loss / d logpNew per row and token.
 */
function directLoss(batch: RolloutBatch, rows: readonly number[], logpNew: Float64Array[], o: PolicyLossOptions): { loss: number; grad: Float64Array[] } {
  let loss = 0;
  const grad = rows.map((b, i) => {
    const n = batch.logpOld[b].length;
    const w = 1 / (rows.length * n);
    return Float64Array.from({ length: n }, (_, t) => {
      const A = batch.advantages[b][t];
      const d = logpNew[i][t] - batch.logpOld[b][t];
      const c = Math.min(Math.max(d, Math.log(o.minRatio)), Math.log(o.maxRatio));
      const r = Math.exp(c);
      const rc = Math.min(Math.max(r, 1 - o.clipEps), 1 + o.clipEps);
      const unclipped = r * A <= rc * A;
      let l = -Math.min(r * A, rc * A);
      // d/dlogpNew: through r unless the Pre-CLIP bound is active, and only where the unclipped term is the min
      let g = c === d && (unclipped || rc === r) ? -A * r : 0;
      const x = Math.min(Math.max(logpNew[i][t] - batch.logpRef![b][t], -10), 10);
      l += o.klCoef * (Math.exp(-x) - 1 + x);
      g += o.klCoef * (1 - Math.exp(-x));
      loss += w * l;
      return w * g;
    });
  });
  return { loss, grad };
}

/** Rollouts of the tiny judge with made-up advantages, old and reference log-probs (the PPO clip binds on some tokens). */
async function rollouts(model: PolicyModel, seed: number): Promise<RolloutBatch> {
  const inputs = (['one', 'two', 'any', 'any'] as Kind[]).map((k) => ({ image: null, prompt: PROMPTS[k] }));
  const gen = (await model.generate(inputs, { n: 3, temperature: 1, maxNewTokens: 24, seed })).flat();
  const rng = new Rng(seed);
  return {
    examples: gen.map((g, b) => ({ ...inputs[Math.floor(b / 3)], response: g.tokens })),
    logpOld: gen.map((g) => g.logprobs.map((v) => v + 0.6 * (rng.float() - 0.5))),
    advantages: gen.map((g) => g.logprobs.map(() => 2 * rng.float() - 1)),
    logpRef: gen.map((g) => g.logprobs.map((v) => v - 2 * rng.float())),
  };
}

async function logprobsOf(model: PolicyModel, batch: RolloutBatch, rows: readonly number[]): Promise<Float64Array[]> {
  const r = await model.logprobs(
    rows.map((b) => batch.examples[b]),
    { grad: false },
  );
  const flat = r.logprobs.toArray() as Float32Array;
  const T = r.logprobs.shape[1];
  r.logprobs.dispose();
  r.mask.dispose();
  return rows.map((b, i) => Float64Array.from(flat.subarray(i * T, i * T + batch.logpOld[b].length)));
}

/** The model gradient of sum(g * logpNew) over `rows`: one forward and backward of the whole batch. */
async function backwardOf(model: PolicyModel, batch: RolloutBatch, rows: readonly number[], g: Float64Array[]): Promise<Float64Array> {
  model.zeroGrad();
  const r = await model.logprobs(rows.map((b) => batch.examples[b]));
  const T = r.logprobs.shape[1];
  const packed = new Float32Array(rows.length * T);
  g.forEach((x, i) => packed.set(x, i * T));
  r.logprobs.dispose();
  r.mask.dispose();
  await model.backward(packed);
  const out = grads(model);
  model.zeroGrad();
  return out;
}

describe('accumulatePolicyGradient', () => {
  test('micro-batches of any size give the loss and gradient of the whole batch, written out in float64', async () => {
    using model = await load();
    const batch = await rollouts(model, 7);
    // 10 of the 12 rollouts (as if the dynamic filter had dropped 2), in a shuffled order
    const rows = new Rng(3).shuffle(Array.from({ length: 12 }, (_, i) => i)).slice(0, 10);
    const want = directLoss(batch, rows, await logprobsOf(model, batch, rows), OPTS);
    const wantGrad = await backwardOf(model, batch, rows, want.grad);
    const scale = maxAbs(wantGrad);
    expect(scale).toBeGreaterThan(1e-4);
    for (const mb of [1, 3, 10, 64]) {
      model.zeroGrad();
      const got = await accumulatePolicyGradient(model, batch, rows, { ...OPTS, miniBatchSize: mb });
      expect(got.nonFinite).toBe(false);
      expect(got.loss).toBeCloseTo(want.loss, 5);
      expect(maxDiff(grads(model), wantGrad)).toBeLessThan(1e-4 * scale);
      expect(got.clipFraction).toBeGreaterThan(0); // the PPO clip binds on some tokens: that branch is checked too
    }
    model.zeroGrad();
    // The KL term is a real part of that gradient: without it the gradient differs.
    const noKl = directLoss(batch, rows, await logprobsOf(model, batch, rows), { ...OPTS, klCoef: 0 });
    expect(maxDiff(await backwardOf(model, batch, rows, noKl.grad), wantGrad)).toBeGreaterThan(0.05 * scale);
  });

  test('the KL term: its gradient matches finite differences of klCoef * mean k3(logp - logp_ref)', async () => {
    using model = await load();
    const batch = await rollouts(model, 9);
    const zero = { ...batch, advantages: batch.advantages.map((a) => new Float32Array(a.length)) };
    const rows = Array.from({ length: 12 }, (_, i) => i);
    const o = { ...OPTS, klCoef: 1, miniBatchSize: 5 };
    model.zeroGrad();
    await accumulatePolicyGradient(model, zero, rows, o);
    const g = grads(model);
    model.zeroGrad();
    const objective = async () => directLoss(zero, rows, await logprobsOf(model, zero, rows), o).loss;
    // the parameters with the largest gradients
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
    const params = model.parameters();
    for (const k of order.slice(0, 4)) {
      let at = k;
      const p = params.find((q) => (at < q.value.size ? true : ((at -= q.value.size), false)))!;
      const base = Float32Array.from(p.value.toArray() as Float32Array);
      const h = 1e-2;
      const at1 = base.slice();
      at1[at] = base[at] + h;
      model.setParameter(p.name, at1);
      const up = await objective();
      at1[at] = base[at] - h;
      model.setParameter(p.name, at1);
      const down = await objective();
      model.setParameter(p.name, base);
      expect(Math.abs((up - down) / (2 * h) - g[k])).toBeLessThan(0.03 * Math.abs(g[k]));
    }
  });
});

describe('rlStep', () => {
  const rows: TrainRow[] = (['one', 'two', 'any', 'any', 'any', 'two'] as Kind[]).map((k, i) => ({
    index: i,
    id: `${k}${i}`,
    image: 'none.png',
    question: k,
    response1: 'a',
    response2: 'b',
    label: k === 'one' ? 1 : k === 'two' ? 2 : ((1 + (i % 2)) as 1 | 2),
  }));
  const input = (r: TrainRow) => ({ image: null, prompt: PROMPTS[r.question as Kind] });
  const rl: RlConfig = { ...DEFAULTS.rl, samplesPerPrompt: 4, miniBatchSize: 3, maxNewTokens: 24 };
  // eps 1: the first AdamW step is then ~lr * gradient (not its sign), so the weights show the gradient's scale.
  const adamw = (m: PolicyModel) => new AdamW(m, { lr: 1e-2, betas: rl.betas, weightDecay: 0, eps: 1, maxGradNorm: 0 });

  test('the kept groups, their RLOO advantages and the KL term are what the one accumulated AdamW step trains on', async () => {
    using model = await load();
    using ref = await loadRef();
    using check = await load();
    using opt = adamw(model);
    using checkOpt = adamw(check);
    const step = 3;
    const m = await rlStep({ model, ref, opt, judge: new RuleBasedJudge(), rewardStats: createRewardStats(), rl, seed: 1, input }, step, rows);

    // The same step by hand: the same samples (same weights, same seed), rewards, advantages; one policyLoss.
    const gen = (await check.generate(rows.map(input), { n: 4, temperature: 1, maxNewTokens: 24, seed: hashSeed(1, 'rollout', step) })).flat();
    const label = (b: number) => rows[Math.floor(b / 4)].label;
    const parts = await Promise.all(gen.map((g, b) => computeReward(g.text, label(b), new RuleBasedJudge(), { weights: rl.rewardWeights })));
    const rewards = parts.map((p) => p.reward);
    const adv = computeAdvantages(rl, { rewards, verdicts: parts.map((p) => p.verdict), logpOld: gen.map((g) => g.logprobs), logpRef: null });
    const kept = adv.keep.flatMap((k, b) => (k ? [b] : []));
    // The judge learnt its prompts: "one"/"two" groups all right (dropped), "any" groups mixed (kept).
    expect(adv.keptGroups).toBeGreaterThan(0);
    expect(adv.keptGroups).toBeLessThan(rows.length);
    expect(m).toMatchObject({ groups: 6, keptGroups: adv.keptGroups, updates: 1, skippedUpdates: 0, rolloutsPerUpdate: kept.length, sequences: 24 });
    expect(m.share1).toBeCloseTo(parts.filter((p) => p.verdict === 1).length / 24, 12);
    expect(m.reward).toBeCloseTo(rewards.reduce((a, x) => a + x, 0) / 24, 6);
    // The dynamic filter: a group is kept exactly when its rewards differ.
    for (let g0 = 0; g0 < 24; g0 += 4) expect(adv.keep[g0]).toBe(new Set(rewards.slice(g0, g0 + 4)).size > 1);
    const examples = gen.map((g, b) => ({ ...input(rows[Math.floor(b / 4)]), response: g.tokens }));
    const T = Math.max(...kept.map((b) => gen[b].tokens.length));
    const pack = (f: (b: number) => ArrayLike<number>) => {
      const out = new Float32Array(kept.length * T);
      kept.forEach((b, i) => out.set(f(b), i * T));
      return out;
    };
    const refLp = await ref.logprobs(
      kept.map((b) => examples[b]),
      { grad: false },
    );
    const lp = await check.logprobs(kept.map((b) => examples[b]));
    expect(lp.logprobs.shape[1]).toBe(T);
    const mask = new Uint8Array(kept.length * T);
    kept.forEach((b, i) => mask.fill(1, i * T, i * T + gen[b].tokens.length));
    const one = kernels.policyLoss({
      logpNew: lp.logprobs,
      logpOld: pack((b) => gen[b].logprobs),
      advantages: pack((b) => adv.advantages[b]),
      mask,
      shape: [kept.length, T],
      logpRef: refLp.logprobs,
      klCoef: rl.klCoef,
      klEstimator: 'k3',
    });
    expect(m.loss).toBeCloseTo(one.loss, 6);
    expect(m.klEstimate).toBeCloseTo(one.stats.klMean, 6);
    // The reference differs from the policy: the KL term takes part.
    expect(one.stats.klMean).toBeGreaterThan(1e-4);
    const start = weights(check);
    await check.backward(one.grad);
    checkOpt.step();
    const scale = maxAbs(weights(check).map((w, i) => w - start[i]));
    expect(scale).toBeGreaterThan(1e-6);
    expect(maxDiff(weights(model), weights(check))).toBeLessThan(1e-3 * scale);
    one.grad.dispose();
    for (const t of [refLp.logprobs, refLp.mask, lp.logprobs, lp.mask]) t.dispose();
  });

  test('rolloutsPerUpdate and ppoEpochs split the kept rollouts into AdamW steps; a step that keeps nothing makes none', async () => {
    using model = await load();
    using ref = await loadRef();
    using opt = adamw(model);
    const ctx = { model, ref, opt, judge: new RuleBasedJudge(), rewardStats: createRewardStats(), seed: 1, input };
    const m = await rlStep({ ...ctx, rl: { ...rl, ppoEpochs: 2, rolloutsPerUpdate: 5 } }, 3, rows);
    const kept = 4 * m.keptGroups;
    expect(m.updates).toBe(2 * Math.ceil(kept / 5));
    expect(opt.stepCount).toBe(m.updates);
    expect(m.rolloutsPerUpdate).toBeCloseTo(kept / Math.ceil(kept / 5), 12);
    // only the prompts the judge always gets right: every group has one reward
    const sure = rows.filter((r) => r.question !== 'any');
    const before = weights(model);
    const none = await rlStep({ ...ctx, rl }, 4, sure);
    expect(none).toMatchObject({ keptGroups: 0, updates: 0, loss: null, gradNorm: null, rolloutsPerUpdate: null });
    expect(maxDiff(weights(model), before)).toBe(0);
    // without the dynamic filter the same step does update
    const all = await rlStep({ ...ctx, rl: { ...rl, dynamicFilter: false } }, 4, sure);
    expect(all).toMatchObject({ keptGroups: sure.length, updates: 1, rolloutsPerUpdate: 4 * sure.length });
  });
});

describe('rlLearningRate', () => {
  test('linear warm-up over lrWarmup of the steps, then cosine down to lr * minLrRatio', () => {
    const s = { steps: 40, lr: 1e-4, lrWarmup: 0.05, minLrRatio: 0.1 };
    const lr = Array.from({ length: 40 }, (_, i) => rlLearningRate(s, i));
    expect(lr[0]).toBeCloseTo(0.5e-4, 12); // 2 warm-up steps
    expect(lr[1]).toBeCloseTo(1e-4, 12);
    expect(lr[2]).toBeCloseTo(1e-4, 12);
    for (let i = 3; i < 40; i++) expect(lr[i]).toBeLessThan(lr[i - 1]);
    expect(lr[21]).toBeCloseTo(1e-4 * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 19) / 38))), 12);
    expect(lr[39]).toBeGreaterThan(1e-5);
    expect(lr[39]).toBeLessThan(1.05e-5);
    expect(rlLearningRate({ ...s, minLrRatio: 1, lrWarmup: 0 }, 17)).toBe(1e-4);
  });
});
