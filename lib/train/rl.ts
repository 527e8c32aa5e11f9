/**
 * Stage 2: one StableReinforce (or REINFORCE++ / GRPO) step.
 *
 *  1. rollouts: samplesPerPrompt samples per prompt from the current policy at the sampling temperature;
 *     the sampling log-probs are kept as the "old" log-probs;
 *  2. rewards: format, result, consistency (rule-based judge), R = Result*(1 + wc*Consistency) + wf*Format;
 *  3. advantages:
 *     - stable-reinforce / reinforce++: REINFORCE++ returns (kernels.reinforceReturns, token KL against the
 *       frozen stage-1 model when klCoef > 0), standardised over every valid token of the batch; with the
 *       Advantage Filter on, |z| > sigma is zeroed (kernels.advantageFilter); off, sigma is effectively infinite;
 *     - grpo: per-prompt group mean/std (kernels.groupAdvantages), broadcast over the tokens (and filtered
 *       too when the filter is switched on explicitly);
 *  4. ppoEpochs passes over the batch in minibatches, one AdamW step each, with the fused policy loss
 *     (kernels.policyLoss); Pre-CLIP bounds the ratio to [minRatio, maxRatio] (off: [1e-30, 1e30]).
 *     Updates after the first see a policy that moved, so the ratio is not identically 1.
 */
import { Rng, hashSeed } from '../data/rng';
import * as kernels from '../kernels';
import type { AdamW } from '../model/adamw';
import type { ModelExample, ModelInput, PolicyModel } from '../model/policy-model';
import { computeReward, type RewardStats } from '../rewards/combine';
import type { ConsistencyJudge } from '../rewards/judge';
import { effectiveRl, type RlConfig } from './config';
import type { TrainRow } from './dataset';
import { guardedUpdate } from './update';

export interface RlContext {
  model: PolicyModel;
  /** The frozen stage-1 model (needed when klCoef > 0 or trackRefKl). */
  ref: PolicyModel | null;
  opt: AdamW;
  judge: ConsistencyJudge;
  rewardStats: RewardStats;
  /** The run's config.rl, read as it is (the switches a null leaves to the algorithm: effectiveRl). */
  rl: RlConfig;
  seed: number;
  input: (row: TrainRow) => ModelInput;
}

export interface RlStepMetrics {
  reward: number;
  result: number;
  format: number;
  consistency: number;
  /** Share of rollouts with the right verdict (= mean Result). */
  accuracy: number;
  responseLength: number;
  /** Share of rollouts cut by maxNewTokens or the context. */
  truncated: number;
  loss: number | null;
  ratioMax: number | null;
  ratioMean: number | null;
  clipFraction: number | null;
  preClipFraction: number | null;
  approxKl: number | null;
  /** Mean k1 estimate of KL(policy || stage-1 model) on the sampled tokens (null when not measured). */
  kl: number | null;
  /** Valid tokens whose advantage the filter zeroed, and their share. */
  filtered: number;
  filteredFraction: number;
  advantageMean: number;
  advantageStd: number;
  gradNorm: number | null;
  updates: number;
  skippedUpdates: number;
  skipReasons: string[];
  sequences: number;
}

const NO_CLIP = { minRatio: 1e-30, maxRatio: 1e30 };
const HUGE_SIGMA = 1e30;

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length === 0 ? 0 : s / xs.length;
}

/** Rows of different lengths -> one zero-padded [B, T] array. */
function pack(rows: readonly ArrayLike<number>[], T: number): Float32Array {
  const out = new Float32Array(rows.length * T);
  rows.forEach((r, b) => out.set(r as ArrayLike<number>, b * T));
  return out;
}

function maskOf(lengths: readonly number[], T: number): Uint8Array {
  const m = new Uint8Array(lengths.length * T);
  lengths.forEach((L, b) => m.fill(1, b * T, b * T + L));
  return m;
}

/** Advantages per sequence (one value per sampled token) and the statistics the metrics report. */
export function computeAdvantages(
  s: RlConfig,
  rewards: Float32Array,
  logpOld: readonly Float32Array[],
  logpRef: readonly Float32Array[] | null,
): { advantages: Float32Array[]; filtered: number; valid: number; mean: number; std: number } {
  const B = rewards.length;
  const lengths = logpOld.map((l) => l.length);
  const T = Math.max(1, ...lengths);
  const mask = maskOf(lengths, T);
  let values: Float32Array;
  if (s.algo === 'grpo') {
    const g = kernels.groupAdvantages(rewards, { groupSize: s.samplesPerPrompt });
    const per = g.toArray() as Float32Array;
    g.dispose();
    values = new Float32Array(B * T);
    for (let b = 0; b < B; b++) values.fill(per[b], b * T, b * T + lengths[b]);
  } else {
    const ret = kernels.reinforceReturns({
      rewards,
      mask,
      logpOld: pack(logpOld, T),
      ...(logpRef ? { logpRef: pack(logpRef, T) } : {}),
      klCoef: s.klCoef,
      klEstimator: s.klEstimator,
    });
    values = ret.toArray() as Float32Array;
    ret.dispose();
  }
  let out: Float32Array;
  let filtered = 0;
  let mu = 0;
  let sd = 0;
  const { filter } = effectiveRl(s);
  if (s.algo !== 'grpo' || filter) {
    // Global standardisation over all valid tokens; the filter zeroes |z| > sigma (off: nothing is zeroed).
    const f = kernels.advantageFilter(values, { mask, sigma: filter ? s.filterSigma : HUGE_SIGMA, rule: s.filterRule });
    out = f.advantages.toArray() as Float32Array;
    f.advantages.dispose();
    filtered = f.filtered;
    mu = f.mean;
    sd = f.std;
  } else {
    out = values;
  }
  const valid = lengths.reduce((a, L) => a + L, 0);
  const advantages = lengths.map((L, b) => out.slice(b * T, b * T + L));
  return { advantages, filtered, valid, mean: mu, std: sd };
}

/** One RL step on the prompts `rows`; `corrupt` injects a NaN gradient into every update (tests). */
export async function rlStep(ctx: RlContext, step: number, rows: readonly TrainRow[], corrupt = false): Promise<RlStepMetrics> {
  const s = ctx.rl;
  const on = effectiveRl(s);
  const { model } = ctx;
  const n = s.samplesPerPrompt;
  const gen = await model.generate(rows.map(ctx.input), {
    n,
    temperature: s.temperature,
    maxNewTokens: s.maxNewTokens,
    seed: hashSeed(ctx.seed, 'rollout', step),
  });
  const seqRows: TrainRow[] = [];
  const samples = gen.flatMap((g, i) => g.map((x) => (seqRows.push(rows[i]), x)));
  const B = samples.length;

  // Rewards. Without the consistency reward its weight is 0: R = Result + wf * Format.
  const weights = { consistency: on.consistency ? s.rewardWeights.consistency : 0, format: s.rewardWeights.format };
  const parts = await Promise.all(samples.map((x, b) => computeReward(x.text, seqRows[b].label, ctx.judge, { weights, stats: ctx.rewardStats })));
  const rewards = Float32Array.from(parts, (p) => p.reward);

  const examples: ModelExample[] = samples.map((x, b) => ({ ...ctx.input(seqRows[b]), response: x.tokens }));
  const logpOld = samples.map((x) => x.logprobs);
  let logpRef: Float32Array[] | null = null;
  if (ctx.ref && (s.klCoef > 0 || s.trackRefKl)) {
    const r = await ctx.ref.logprobs(examples, { temperature: s.temperature, grad: false });
    const flat = r.logprobs.toArray() as Float32Array;
    const T = r.logprobs.shape[1];
    r.logprobs.dispose();
    r.mask.dispose();
    logpRef = samples.map((x, b) => flat.slice(b * T, b * T + x.tokens.length));
  } else if (s.klCoef > 0) {
    throw new Error('rl.klCoef > 0 needs the stage-1 reference model');
  }
  let kl: number | null = null;
  if (logpRef) {
    let sum = 0;
    let cnt = 0;
    logpOld.forEach((lo, b) => lo.forEach((v, t) => ((sum += v - logpRef![b][t]), cnt++)));
    kl = cnt ? sum / cnt : 0;
  }
  const adv = computeAdvantages(s, rewards, logpOld, s.klCoef > 0 ? logpRef : null);

  // PPO epochs over minibatches.
  const clip = on.preClip ? { minRatio: s.minRatio, maxRatio: s.maxRatio } : NO_CLIP;
  let updates = 0;
  let skipped = 0;
  const reasons: string[] = [];
  const losses: number[] = [];
  const norms: number[] = [];
  let ratioMax = -Infinity;
  const ratioMeans: number[] = [];
  const clipFr: number[] = [];
  const preClipFr: number[] = [];
  const approx: number[] = [];
  for (let e = 0; e < s.ppoEpochs; e++) {
    const order = Rng.derive(ctx.seed, 'ppo', step, e).shuffle(Array.from({ length: B }, (_, i) => i));
    for (let i = 0; i < B; i += s.miniBatchSize) {
      const mb = order.slice(i, i + s.miniBatchSize);
      const lp = await model.logprobs(
        mb.map((b) => examples[b]),
        { temperature: s.temperature },
      );
      const T = lp.logprobs.shape[1];
      try {
        const lengths = mb.map((b) => logpOld[b].length);
        const res = kernels.policyLoss({
          logpNew: lp.logprobs,
          logpOld: pack(
            mb.map((b) => logpOld[b]),
            T,
          ),
          advantages: pack(
            mb.map((b) => adv.advantages[b]),
            T,
          ),
          mask: maskOf(lengths, T),
          shape: [mb.length, T],
          clipEps: s.clipEps,
          ...clip,
        });
        const grad = res.grad.toArray() as Float32Array;
        res.grad.dispose();
        const nonFinite = res.stats.nonFinite > 0 ? NaN : res.loss;
        const u = await guardedUpdate(model, ctx.opt, nonFinite, grad, corrupt);
        updates++;
        if (u.skipped) {
          skipped++;
          reasons.push(u.reason!);
        } else {
          losses.push(res.loss);
          norms.push(u.gradNorm);
        }
        if (Number.isFinite(res.stats.ratioMax)) ratioMax = Math.max(ratioMax, res.stats.ratioMax);
        ratioMeans.push(res.stats.ratioMean);
        clipFr.push(res.stats.clipFraction);
        preClipFr.push(res.stats.preClipFraction);
        approx.push(res.stats.approxKl);
      } finally {
        lp.logprobs.dispose();
        lp.mask.dispose();
      }
    }
  }
  const lengths = samples.map((x) => x.tokens.length);
  return {
    reward: mean(rewards),
    result: mean(parts.map((p) => p.result)),
    format: mean(parts.map((p) => p.format)),
    consistency: mean(parts.map((p) => p.consistency)),
    accuracy: mean(parts.map((p) => p.result)),
    responseLength: mean(lengths),
    truncated: samples.filter((x) => x.finishReason === 'length').length / Math.max(1, B),
    loss: losses.length ? mean(losses) : null,
    ratioMax: Number.isFinite(ratioMax) ? ratioMax : null,
    ratioMean: ratioMeans.length ? mean(ratioMeans) : null,
    clipFraction: clipFr.length ? mean(clipFr) : null,
    preClipFraction: preClipFr.length ? mean(preClipFr) : null,
    approxKl: approx.length ? mean(approx) : null,
    kl,
    filtered: adv.filtered,
    filteredFraction: adv.valid ? adv.filtered / adv.valid : 0,
    advantageMean: adv.mean,
    advantageStd: adv.std,
    gradNorm: norms.length ? mean(norms) : null,
    updates,
    skippedUpdates: skipped,
    skipReasons: [...new Set(reasons)],
    sequences: B,
  };
}
