/**
 * Stage 2: one StableReinforce (or REINFORCE++ / GRPO) step. The defaults are the regime of
 * docs/research/rl-regime.md (issue 15); every knob is a setting of config.rl.
 *
 *  1. rollouts: samplesPerPrompt samples per prompt from the current policy at the sampling temperature;
 *     the sampling log-probs are kept as the "old" log-probs;
 *  2. rewards: format, result, consistency (rule-based judge), R = Result*(1 + wc*Consistency) + wf*Format;
 *  3. advantages (computeAdvantages):
 *     - dynamic filtering (rl.dynamicFilter): the prompts whose samples all got the same reward are dropped;
 *       they take no part in the baseline, the standardisation or the update;
 *     - a baseline per rollout (rl.baseline): none (REINFORCE++), rloo (the prompt's other samples), verdict
 *       (the rollouts with the same verdict), grpo (group mean/std, kernels.groupAdvantages);
 *     - token returns (kernels.reinforceReturns, gamma 1): the sequence's value on every token, minus the
 *       KL shaping when rl.klIn is 'reward';
 *     - standardised over every kept token of the batch, with the Advantage Filter zeroing |z| > sigma
 *       (kernels.advantageFilter; off: sigma effectively infinite); GRPO's group-scaled values are not
 *       standardised again unless the filter is switched on;
 *  4. updates (policyUpdate): ppoEpochs passes; each splits the kept rollouts (in a seeded order) into AdamW
 *     steps of rolloutsPerUpdate (null: all of them); an update runs in micro-batches of miniBatchSize whose
 *     gradients accumulate, the fused loss (kernels.policyLoss, Pre-CLIP, PPO clip, the KL term when rl.klIn
 *     is 'loss') normalised by the update's rollouts, so the update equals one over the whole batch.
 *
 * Every draw comes from (seed, purpose, step): a resumed run repeats the step exactly.
 */
import { Rng, hashSeed } from '../data/rng';
import * as kernels from '../kernels';
import type { AdamW } from '../model/adamw';
import type { ModelExample, ModelInput, PolicyModel } from '../model/policy-model';
import { computeReward, type RewardStats } from '../rewards/combine';
import type { ConsistencyJudge } from '../rewards/judge';
import { effectiveRl, type RlConfig } from './config';
import type { TrainRow } from './dataset';
import { groupBaselineAdvantages, informativeGroups, verdictConditionalAdvantages, type Verdict } from './rl-regime';
import { cosineLr, guardedStep, type UpdateResult } from './update';

export interface RlContext {
  model: PolicyModel;
  /** The frozen stage-1 model (needed when klCoef > 0 or trackRefKl). */
  ref: PolicyModel | null;
  opt: AdamW;
  judge: ConsistencyJudge;
  rewardStats: RewardStats;
  /** The run's config.rl, read as it is (the settings a null leaves to the algorithm: effectiveRl). */
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
  /** Share of rollouts whose (strict) verdict is "1"; unparsable ones count as neither. */
  share1: number;
  responseLength: number;
  /** Share of rollouts cut by maxNewTokens or the context. */
  truncated: number;
  /** Prompts of the step, and those the dynamic filter kept (all when it is off). */
  groups: number;
  keptGroups: number;
  /** Mean rollouts per AdamW step (null: no update). */
  rolloutsPerUpdate: number | null;
  loss: number | null;
  ratioMax: number | null;
  ratioMean: number | null;
  clipFraction: number | null;
  preClipFraction: number | null;
  approxKl: number | null;
  /** Mean k1 estimate of KL(policy || stage-1 model) on the sampled tokens (null when not measured). */
  kl: number | null;
  /** Mean klEstimator estimate of the KL to the stage-1 model over the trained tokens, as the loss sees it (null: not measured). */
  klEstimate: number | null;
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

/** The learning rate of RL step `step` (0-based): linear warm-up over lrWarmup of the steps, then cosine to lr * minLrRatio. */
export function rlLearningRate(s: Pick<RlConfig, 'steps' | 'lr' | 'lrWarmup' | 'minLrRatio'>, step: number): number {
  return cosineLr(step, Math.max(1, s.steps), s.lr, Math.round(s.lrWarmup * s.steps), s.minLrRatio);
}

export interface AdvantageInput {
  /** One reward per rollout, the samples of a prompt consecutive (groups of samplesPerPrompt). */
  rewards: ArrayLike<number>;
  /** Each rollout's verdict (the 'verdict' baseline needs them; null: none). */
  verdicts?: readonly (Verdict | null)[];
  /** Sampling log-probs, one array per rollout (its length = its tokens). */
  logpOld: readonly Float32Array[];
  /** Reference log-probs; used only for the KL shaping of the returns (klIn 'reward', klCoef > 0). */
  logpRef: readonly Float32Array[] | null;
}

export interface Advantages {
  /** Per rollout, one value per sampled token (zeros for dropped rollouts). */
  advantages: Float32Array[];
  /** Per rollout: kept by the dynamic filter (all true when it is off). */
  keep: boolean[];
  keptGroups: number;
  /** Kept tokens the Advantage Filter zeroed, of `valid` kept tokens; mean and std of the standardisation. */
  filtered: number;
  valid: number;
  mean: number;
  std: number;
}

/** Advantages per rollout and token (step 3 of the file's comment) and the statistics the metrics report. */
export function computeAdvantages(s: RlConfig, x: AdvantageInput): Advantages {
  const on = effectiveRl(s);
  const g = s.samplesPerPrompt;
  const { logpOld } = x;
  const B = logpOld.length;
  const rewards = Float64Array.from(x.rewards as ArrayLike<number>);
  if (rewards.length !== B) throw new RangeError(`rewards (${rewards.length}) and logpOld (${B}) must have one entry per rollout`);
  const keep = on.dynamicFilter ? informativeGroups(rewards, g) : Array.from({ length: B }, () => true);
  const kept = keep.flatMap((k, b) => (k ? [b] : []));
  let keptGroups = 0;
  for (let b = 0; b < B; b += g) if (keep[b]) keptGroups++;

  // Sequence values of the kept rollouts (dropped ones take no part in a baseline).
  const score = new Float32Array(B);
  if (kept.length > 0) {
    const r = kept.map((b) => rewards[b]);
    let v: ArrayLike<number>;
    if (on.baseline === 'none') v = r;
    else if (on.baseline === 'rloo') v = groupBaselineAdvantages(r, g, 'rloo');
    else if (on.baseline === 'verdict') {
      if (!x.verdicts || x.verdicts.length !== B) throw new RangeError(`the "verdict" baseline needs one verdict per rollout (${B})`);
      v = verdictConditionalAdvantages(
        r,
        kept.map((b) => x.verdicts![b]),
      );
    } else {
      const t = kernels.groupAdvantages(Float32Array.from(r), { groupSize: g });
      v = t.toArray() as Float32Array;
      t.dispose();
    }
    kept.forEach((b, i) => (score[b] = v[i]));
  }

  // Token values: the sequence value on every token (gamma 1), minus the KL shaping when it goes into the returns.
  const lengths = logpOld.map((l) => l.length);
  const T = Math.max(1, ...lengths);
  const mask = maskOf(
    lengths.map((L, b) => (keep[b] ? L : 0)),
    T,
  );
  const shaping = s.klIn === 'reward' && s.klCoef > 0;
  if (shaping && !x.logpRef) throw new Error('rl.klCoef > 0 with klIn "reward" needs the reference log-probs');
  const ret = kernels.reinforceReturns({
    rewards: score,
    mask,
    ...(shaping ? { logpOld: pack(logpOld, T), logpRef: pack(x.logpRef!, T), klCoef: s.klCoef, klEstimator: s.klEstimator } : {}),
  });
  let values = ret.toArray() as Float32Array;
  ret.dispose();

  let filtered = 0;
  let mu = 0;
  let sd = 0;
  if (on.baseline !== 'grpo' || on.filter) {
    // Global standardisation over the kept tokens; the filter zeroes |z| > sigma (off: nothing is zeroed).
    const f = kernels.advantageFilter(values, { mask, sigma: on.filter ? s.filterSigma : HUGE_SIGMA, rule: s.filterRule });
    values = f.advantages.toArray() as Float32Array;
    f.advantages.dispose();
    filtered = f.filtered;
    mu = f.mean;
    sd = f.std;
  }
  const advantages = lengths.map((L, b) => (keep[b] ? values.slice(b * T, b * T + L) : new Float32Array(L)));
  const valid = kept.reduce((a, b) => a + lengths[b], 0);
  return { advantages, keep, keptGroups, filtered, valid, mean: mu, std: sd };
}

/** The rollouts an update trains on: per rollout its example, sampling and reference log-probs and advantages. */
export interface RolloutBatch {
  examples: readonly ModelExample[];
  logpOld: readonly Float32Array[];
  advantages: readonly Float32Array[];
  /** Needed when klCoef > 0 (the KL term); given with klCoef 0, the loss only measures the KL (klEstimate). */
  logpRef: readonly Float32Array[] | null;
}

export interface PolicyLossOptions {
  miniBatchSize: number;
  temperature: number;
  clipEps: number;
  minRatio: number;
  maxRatio: number;
  /** KL term in the loss (0: none). */
  klCoef: number;
  klEstimator: kernels.PolicyLossKlEstimator;
}

export interface AccumulatedLoss {
  /** The update's loss (sum over its micro-batches); NaN when a term was not finite. */
  loss: number;
  /** A micro-batch had a non-finite loss or gradient: the accumulation stopped there. */
  nonFinite: boolean;
  tokens: number;
  ratioMax: number;
  ratioMean: number;
  clipFraction: number;
  preClipFraction: number;
  approxKl: number;
  /** Mean KL estimate over the tokens (0 without reference log-probs). */
  klMean: number;
}

/**
 * Forward and backward of the rollouts `rows` of `batch` in micro-batches of miniBatchSize: the gradient of the
 * update's loss (policyLoss with normalizer = rows.length) accumulates in the model's gradients, which the caller
 * steps and zeroes. `corrupt` replaces every micro-batch's gradient by NaN (fault injection).
 */
export async function accumulatePolicyGradient(
  model: PolicyModel,
  batch: RolloutBatch,
  rows: readonly number[],
  o: PolicyLossOptions,
  corrupt = false,
): Promise<AccumulatedLoss> {
  if (o.klCoef > 0 && !batch.logpRef) throw new Error('a KL term in the loss needs the reference log-probs');
  const acc = { loss: 0, nonFinite: false, tokens: 0, ratioMax: -Infinity, ratioMean: 0, clipFraction: 0, preClipFraction: 0, approxKl: 0, klMean: 0 };
  for (let i = 0; i < rows.length && !acc.nonFinite; i += o.miniBatchSize) {
    const mb = rows.slice(i, i + o.miniBatchSize);
    const lp = await model.logprobs(
      mb.map((b) => batch.examples[b]),
      { temperature: o.temperature },
    );
    try {
      const T = lp.logprobs.shape[1];
      const rowsOf = (x: readonly Float32Array[]) =>
        pack(
          mb.map((b) => x[b]),
          T,
        );
      const res = kernels.policyLoss({
        logpNew: lp.logprobs,
        logpOld: rowsOf(batch.logpOld),
        advantages: rowsOf(batch.advantages),
        mask: maskOf(
          mb.map((b) => batch.logpOld[b].length),
          T,
        ),
        shape: [mb.length, T],
        clipEps: o.clipEps,
        minRatio: o.minRatio,
        maxRatio: o.maxRatio,
        ...(batch.logpRef ? { logpRef: rowsOf(batch.logpRef), klCoef: o.klCoef, klEstimator: o.klEstimator } : {}),
        normalizer: rows.length,
      });
      const grad = res.grad.toArray() as Float32Array;
      res.grad.dispose();
      const n = res.stats.validTokens;
      acc.tokens += n;
      acc.ratioMean += res.stats.ratioMean * n;
      acc.clipFraction += res.stats.clipFraction * n;
      acc.preClipFraction += res.stats.preClipFraction * n;
      acc.approxKl += res.stats.approxKl * n;
      acc.klMean += res.stats.klMean * n;
      if (Number.isFinite(res.stats.ratioMax)) acc.ratioMax = Math.max(acc.ratioMax, res.stats.ratioMax);
      if (res.stats.nonFinite > 0 || !Number.isFinite(res.loss)) {
        acc.nonFinite = true;
        acc.loss = NaN;
      } else {
        acc.loss += res.loss;
        if (corrupt) grad.fill(NaN);
        await model.backward(grad);
      }
    } finally {
      lp.logprobs.dispose();
      lp.mask.dispose();
    }
  }
  const per = (v: number) => (acc.tokens ? v / acc.tokens : 0);
  return {
    ...acc,
    ratioMean: per(acc.ratioMean),
    clipFraction: per(acc.clipFraction),
    preClipFraction: per(acc.preClipFraction),
    approxKl: per(acc.approxKl),
    klMean: per(acc.klMean),
  };
}

/**
 * One AdamW step on the rollouts `rows`: the accumulated gradient (accumulatePolicyGradient), unless the loss
 * or the gradient is not finite (then the weights and moments stay as they are: guardedStep).
 */
export async function policyUpdate(
  model: PolicyModel,
  opt: AdamW,
  batch: RolloutBatch,
  rows: readonly number[],
  o: PolicyLossOptions,
  corrupt = false,
): Promise<UpdateResult & { stats: AccumulatedLoss }> {
  model.zeroGrad();
  const stats = await accumulatePolicyGradient(model, batch, rows, o, corrupt);
  return { ...guardedStep(model, opt, stats.nonFinite ? NaN : stats.loss), stats };
}

/** Log-probs of `examples` under `model` without gradient, in chunks of `chunk` sequences. */
async function logprobsNoGrad(model: PolicyModel, examples: readonly ModelExample[], lengths: readonly number[], temperature: number, chunk: number) {
  const out: Float32Array[] = [];
  for (let i = 0; i < examples.length; i += chunk) {
    const r = await model.logprobs(examples.slice(i, i + chunk), { temperature, grad: false });
    const flat = r.logprobs.toArray() as Float32Array;
    const T = r.logprobs.shape[1];
    r.logprobs.dispose();
    r.mask.dispose();
    for (let k = 0; i + k < Math.min(examples.length, i + chunk); k++) out.push(flat.slice(k * T, k * T + lengths[i + k]));
  }
  return out;
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
  const lengths = samples.map((x) => x.tokens.length);
  let logpRef: Float32Array[] | null = null;
  if (ctx.ref && (s.klCoef > 0 || s.trackRefKl)) logpRef = await logprobsNoGrad(ctx.ref, examples, lengths, s.temperature, s.miniBatchSize);
  else if (s.klCoef > 0) throw new Error('rl.klCoef > 0 needs the stage-1 reference model');
  let kl: number | null = null;
  if (logpRef) {
    let sum = 0;
    let cnt = 0;
    logpOld.forEach((lo, b) => lo.forEach((v, t) => ((sum += v - logpRef![b][t]), cnt++)));
    kl = cnt ? sum / cnt : 0;
  }
  const adv = computeAdvantages(s, { rewards, verdicts: parts.map((p) => p.verdict), logpOld, logpRef });

  // ppoEpochs passes; each splits the kept rollouts, in a seeded order, into AdamW steps of rolloutsPerUpdate.
  const kept = adv.keep.flatMap((k, b) => (k ? [b] : []));
  const batch: RolloutBatch = { examples, logpOld, advantages: adv.advantages, logpRef };
  const lossOptions: PolicyLossOptions = {
    miniBatchSize: s.miniBatchSize,
    temperature: s.temperature,
    clipEps: s.clipEps,
    ...(on.preClip ? { minRatio: s.minRatio, maxRatio: s.maxRatio } : NO_CLIP),
    klCoef: s.klIn === 'loss' ? s.klCoef : 0,
    klEstimator: s.klEstimator,
  };
  const per = Math.max(1, s.rolloutsPerUpdate ?? kept.length);
  const reasons: string[] = [];
  const results: (UpdateResult & { stats: AccumulatedLoss; rollouts: number })[] = [];
  for (let e = 0; e < s.ppoEpochs && kept.length > 0; e++) {
    const order = Rng.derive(ctx.seed, 'ppo', step, e).shuffle(kept.slice());
    for (let i = 0; i < order.length; i += per) {
      const part = order.slice(i, i + per);
      const u = await policyUpdate(model, ctx.opt, batch, part, lossOptions, corrupt);
      if (u.skipped) reasons.push(u.reason!);
      results.push({ ...u, rollouts: part.length });
    }
  }
  const done = results.filter((u) => !u.skipped);
  const measured = results.filter((u) => u.stats.tokens > 0);
  const tokenMean = (f: (a: AccumulatedLoss) => number) => {
    const t = measured.reduce((a, u) => a + u.stats.tokens, 0);
    return t ? measured.reduce((a, u) => a + f(u.stats) * u.stats.tokens, 0) / t : null;
  };
  const ratioMax = Math.max(-Infinity, ...measured.map((u) => u.stats.ratioMax));
  return {
    reward: mean(rewards),
    result: mean(parts.map((p) => p.result)),
    format: mean(parts.map((p) => p.format)),
    consistency: mean(parts.map((p) => p.consistency)),
    accuracy: mean(parts.map((p) => p.result)),
    share1: B ? parts.filter((p) => p.verdict === 1).length / B : 0,
    responseLength: mean(lengths),
    truncated: samples.filter((x) => x.finishReason === 'length').length / Math.max(1, B),
    groups: rows.length,
    keptGroups: adv.keptGroups,
    rolloutsPerUpdate: results.length ? mean(results.map((u) => u.rollouts)) : null,
    loss: done.length ? mean(done.map((u) => u.loss)) : null,
    ratioMax: Number.isFinite(ratioMax) ? ratioMax : null,
    ratioMean: tokenMean((a) => a.ratioMean),
    clipFraction: tokenMean((a) => a.clipFraction),
    preClipFraction: tokenMean((a) => a.preClipFraction),
    approxKl: tokenMean((a) => a.approxKl),
    kl,
    klEstimate: logpRef ? tokenMean((a) => a.klMean) : null,
    filtered: adv.filtered,
    filteredFraction: adv.valid ? adv.filtered / adv.valid : 0,
    advantageMean: adv.mean,
    advantageStd: adv.std,
    gradNorm: done.length ? mean(done.map((u) => u.gradNorm)) : null,
    updates: results.length,
    skippedUpdates: results.length - done.length,
    skipReasons: [...new Set(reasons)],
    sequences: B,
  };
}
