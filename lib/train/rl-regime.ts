/**
 * Knobs of the stage-2 update regime (issue 15), as small pure functions so a trainer phase can use them and
 * tests can check them against a direct reference. Evidence for each: docs/research/rl-regime.md.
 *
 * - verdictConditionalAdvantages: rewards centred separately among rollouts that answered "1", "2" or nothing.
 *   The advantages of each verdict class sum to zero, so an update cannot move the share of "1" verdicts as a
 *   whole (the direction along which a binary judging reward is nearly flat); it can only move which prompts
 *   get which verdict.
 * - groupBaselineAdvantages: per-prompt baselines (RLOO: the mean of the other samples of the prompt;
 *   group-mean: REINFORCE++-baseline's; grpo: mean and std of the group).
 * - informativeGroups: dynamic filtering: a group whose samples all got the same reward carries no signal under
 *   a per-prompt baseline and is dropped (not just zeroed) so it does not dilute the batch mean.
 * - standardise: z-scores over the kept entries (the global normalisation of REINFORCE++-baseline).
 * - shuffledLabels: the random-label control's labels.
 */
import type { Rng } from '../data/rng';

export type Verdict = 1 | 2;
export type GroupBaseline = 'rloo' | 'group-mean' | 'grpo';

function checkRewards(rewards: ArrayLike<number>, name = 'rewards'): void {
  if (rewards === null || typeof rewards !== 'object' || typeof rewards.length !== 'number') throw new TypeError(`${name} must be an array of numbers`);
  for (let i = 0; i < rewards.length; i++) {
    if (typeof rewards[i] !== 'number' || !Number.isFinite(rewards[i]))
      throw new RangeError(`${name}[${i}] must be a finite number, got ${String(rewards[i])}`);
  }
}

function checkGroupSize(n: number, groupSize: number): void {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`groupSize must be an integer >= 1, got ${groupSize}`);
  if (n % groupSize !== 0) throw new RangeError(`rewards.length (${n}) must be a multiple of groupSize (${groupSize})`);
}

/**
 * A_i = R_i - mean(R_j : verdict_j = verdict_i), with "no verdict" (null) its own class. Not scaled: normalise
 * afterwards if wanted (standardise).
 */
export function verdictConditionalAdvantages(rewards: ArrayLike<number>, verdicts: readonly (Verdict | null)[]): Float64Array {
  checkRewards(rewards);
  if (!Array.isArray(verdicts) || verdicts.length !== rewards.length)
    throw new RangeError(`verdicts must be an array of ${rewards.length} entries (1, 2 or null)`);
  const sum = new Map<Verdict | null, number>();
  const cnt = new Map<Verdict | null, number>();
  verdicts.forEach((v, i) => {
    if (v !== 1 && v !== 2 && v !== null) throw new TypeError(`verdicts[${i}] must be 1, 2 or null, got ${String(v)}`);
    sum.set(v, (sum.get(v) ?? 0) + rewards[i]);
    cnt.set(v, (cnt.get(v) ?? 0) + 1);
  });
  return Float64Array.from(verdicts, (v, i) => rewards[i] - sum.get(v)! / cnt.get(v)!);
}

/**
 * Per-prompt baselines over consecutive groups of `groupSize` rollouts (the samples of one prompt):
 * - rloo: A_i = R_i - mean of the other samples of the group (0 for a group of one);
 * - group-mean: A_i = R_i - mean of the group;
 * - grpo: (R_i - mean) / (std + eps), std the unbiased std of the group (n - 1, as PyTorch's .std() and the
 *   group_advantages kernel the trainer uses; 0 for a group of one).
 */
export function groupBaselineAdvantages(rewards: ArrayLike<number>, groupSize: number, kind: GroupBaseline, eps = 1e-6): Float64Array {
  checkRewards(rewards);
  checkGroupSize(rewards.length, groupSize);
  if (kind !== 'rloo' && kind !== 'group-mean' && kind !== 'grpo') throw new RangeError(`kind must be rloo, group-mean or grpo, got ${String(kind)}`);
  if (!(eps > 0)) throw new RangeError(`eps must be > 0, got ${eps}`);
  const out = new Float64Array(rewards.length);
  for (let g = 0; g < rewards.length; g += groupSize) {
    let s = 0;
    for (let i = g; i < g + groupSize; i++) s += rewards[i];
    const m = s / groupSize;
    let v = 0;
    for (let i = g; i < g + groupSize; i++) v += (rewards[i] - m) ** 2;
    const sd = groupSize > 1 ? Math.sqrt(v / (groupSize - 1)) : 0;
    for (let i = g; i < g + groupSize; i++) {
      if (kind === 'rloo') out[i] = groupSize > 1 ? rewards[i] - (s - rewards[i]) / (groupSize - 1) : 0;
      else if (kind === 'group-mean') out[i] = rewards[i] - m;
      else out[i] = (rewards[i] - m) / (sd + eps);
    }
  }
  return out;
}

/** Per rollout: true when its group (consecutive `groupSize` rollouts) has at least two different rewards. */
export function informativeGroups(rewards: ArrayLike<number>, groupSize: number): boolean[] {
  checkRewards(rewards);
  checkGroupSize(rewards.length, groupSize);
  const keep: boolean[] = [];
  for (let g = 0; g < rewards.length; g += groupSize) {
    let differs = false;
    for (let i = g + 1; i < g + groupSize; i++) if (rewards[i] !== rewards[g]) differs = true;
    for (let i = 0; i < groupSize; i++) keep.push(differs);
  }
  return keep;
}

/**
 * z-scores (x - mean) / (std + eps) over the entries where keep is true (population std); the others are 0.
 * All kept entries equal: all 0.
 */
export function standardise(values: ArrayLike<number>, keep?: readonly boolean[], eps = 1e-6): Float64Array {
  checkRewards(values, 'values');
  if (keep !== undefined && (!Array.isArray(keep) || keep.length !== values.length)) throw new RangeError(`keep must be an array of ${values.length} booleans`);
  const on = (i: number) => keep === undefined || keep[i] === true;
  let n = 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    if (on(i)) {
      n++;
      s += values[i];
    }
  }
  const out = new Float64Array(values.length);
  if (n === 0) return out;
  const m = s / n;
  let v = 0;
  for (let i = 0; i < values.length; i++) if (on(i)) v += (values[i] - m) ** 2;
  const sd = Math.sqrt(v / n);
  for (let i = 0; i < values.length; i++) if (on(i)) out[i] = (values[i] - m) / (sd + eps);
  return out;
}

/** The labels permuted at random (same counts of 1 and 2): the random-label control's rewards use them. */
export function shuffledLabels<T>(labels: readonly T[], rng: Rng): T[] {
  if (!Array.isArray(labels)) throw new TypeError('labels must be an array');
  return rng.shuffle(labels.slice());
}
