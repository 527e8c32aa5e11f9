/** Stage-2 advantages (computeAdvantages) for every baseline, with and without dynamic filtering and KL shaping,
 * checked against float64 arithmetic written out here. */
import { Rng } from '../../lib/data/rng';
import { DEFAULTS, type RlConfig } from '../../lib/train/config';
import { computeAdvantages } from '../../lib/train/rl';
import type { Verdict } from '../../lib/train/rl-regime';

// The default RL settings (stable-reinforce: RLOO, dynamic filtering, Pre-CLIP, filter at 3 sigma, KL in the loss)
// in groups of 2.
const BASE: RlConfig = { ...DEFAULTS.rl, samplesPerPrompt: 2, maxNewTokens: 8 };
// REINFORCE++ as the trainer ran it before issue 15: no baseline, no dynamic filter.
const PLAIN: RlConfig = { ...BASE, baseline: 'none', dynamicFilter: false };

function lp(...lengths: number[]): Float32Array[] {
  return lengths.map((L, b) => Float32Array.from({ length: L }, (_, t) => -0.1 - 0.01 * (b + t)));
}

function standardise(values: number[]): number[] {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
  return values.map((v) => (v - m) / (sd + 1e-8));
}

const flat = (a: Float32Array[]) => a.flatMap((x) => Array.from(x));

/**
 * The whole computation in float64, from its definition: dynamic filtering over groups of g, the baseline among
 * the kept rollouts, the KL tail sum of the returns (klIn 'reward'), standardisation over the kept tokens and the
 * 3-sigma rule ('paper').
 */
function reference(
  s: RlConfig,
  rewards: number[],
  verdicts: (Verdict | null)[],
  logpOld: Float32Array[],
  logpRef: Float32Array[] | null,
): { adv: number[][]; keep: boolean[]; filtered: number } {
  const g = s.samplesPerPrompt;
  const baseline = s.baseline ?? (s.algo === 'stable-reinforce' ? 'rloo' : s.algo === 'grpo' ? 'grpo' : 'none');
  const dyn = s.dynamicFilter ?? s.algo === 'stable-reinforce';
  const filter = s.filter ?? s.algo === 'stable-reinforce';
  const groupOf = (b: number) => Array.from({ length: g }, (_, i) => Math.floor(b / g) * g + i);
  const keep = rewards.map((_, b) => !dyn || new Set(groupOf(b).map((j) => rewards[j])).size > 1);
  const score = rewards.map((r, b) => {
    if (!keep[b]) return 0;
    if (baseline === 'none') return r;
    if (baseline === 'rloo') return r - groupOf(b).reduce((a, j) => a + (j === b ? 0 : rewards[j]), 0) / (g - 1);
    if (baseline === 'verdict') {
      const same = rewards.filter((_, j) => keep[j] && verdicts[j] === verdicts[b]);
      return r - same.reduce((a, x) => a + x, 0) / same.length;
    }
    const grp = groupOf(b).map((j) => rewards[j]);
    const m = grp.reduce((a, x) => a + x, 0) / g;
    const sd = Math.sqrt(grp.reduce((a, x) => a + (x - m) ** 2, 0) / (g - 1));
    return (r - m) / (sd + 1e-6);
  });
  const k = (x: number) => (s.klEstimator === 'k1' ? x : s.klEstimator === 'k2' ? (x * x) / 2 : Math.exp(-x) - 1 + x);
  const shaping = s.klIn === 'reward' && s.klCoef > 0;
  const tok = logpOld.map((lo, b) =>
    Array.from(lo, (_, t) => {
      let tail = 0;
      if (shaping) for (let i = t; i < lo.length; i++) tail += k(lo[i] - logpRef![b][i]);
      return score[b] - s.klCoef * tail * (shaping ? 1 : 0);
    }),
  );
  if (baseline === 'grpo' && !filter) return { adv: tok.map((x, b) => (keep[b] ? x : x.map(() => 0))), keep, filtered: 0 };
  const vals = tok.flatMap((x, b) => (keep[b] ? x : []));
  const m = vals.reduce((a, x) => a + x, 0) / Math.max(1, vals.length);
  const sd = Math.sqrt(vals.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, vals.length));
  let filtered = 0;
  const adv = tok.map((x, b) =>
    x.map((v) => {
      if (!keep[b] || sd === 0) return 0;
      const z = (v - m) / (sd + 1e-8);
      if (filter && Math.abs(z) > s.filterSigma) {
        filtered++;
        return 0;
      }
      return z;
    }),
  );
  return { adv, keep, filtered };
}

function expectMatches(s: RlConfig, rewards: number[], verdicts: (Verdict | null)[], logpOld: Float32Array[], logpRef: Float32Array[] | null): void {
  const want = reference(s, rewards, verdicts, logpOld, logpRef);
  const got = computeAdvantages(s, { rewards, verdicts, logpOld, logpRef });
  expect(got.keep).toEqual(want.keep);
  expect(got.keptGroups).toBe(want.keep.filter((k, b) => k && b % s.samplesPerPrompt === 0).length);
  expect(got.filtered).toBe(want.filtered);
  expect(got.advantages.map((a) => a.length)).toEqual(logpOld.map((l) => l.length));
  got.advantages.forEach((a, b) => a.forEach((v, t) => expect(Math.abs(v - want.adv[b][t])).toBeLessThan(2e-5)));
}

describe('computeAdvantages', () => {
  test('REINFORCE++ (gamma 1, no KL): every token of a sequence gets its reward, standardised over all tokens', () => {
    const rewards = Float32Array.from([1.5, 0, 2, 0.5]);
    const logp = lp(3, 1, 2, 4);
    const r = computeAdvantages({ ...BASE, algo: 'reinforce++', filter: false }, { rewards, logpOld: logp, logpRef: null });
    const tokens = logp.flatMap((l, b) => Array.from(l, () => rewards[b]));
    const want = standardise(tokens);
    expect(r.advantages.map((a) => a.length)).toEqual([3, 1, 2, 4]);
    flat(r.advantages).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(r.filtered).toBe(0);
    expect(r.valid).toBe(10);
    expect(r.keep).toEqual([true, true, true, true]);
  });

  test('the Advantage Filter zeroes |z| > 3 and counts the tokens', () => {
    // 40 one-token sequences: 39 with reward 0 and 1 with reward 10 -> that one has z = sqrt(39) > 3.
    const rewards = new Float32Array(40);
    rewards[7] = 10;
    const logp = lp(...Array(40).fill(1));
    const on = computeAdvantages(PLAIN, { rewards, logpOld: logp, logpRef: null });
    expect(on.filtered).toBe(1);
    expect(on.advantages[7][0]).toBe(0);
    expect(on.advantages[0][0]).toBeCloseTo(-1 / Math.sqrt(39), 5);
    const off = computeAdvantages({ ...PLAIN, filter: false }, { rewards, logpOld: logp, logpRef: null });
    expect(off.filtered).toBe(0);
    expect(off.advantages[7][0]).toBeCloseTo(Math.sqrt(39), 4);
  });

  test('klIn "reward": the KL penalty lowers the returns of tokens that moved away from the reference', () => {
    const rewards = Float32Array.from([1, 1]);
    const logp = [Float32Array.from([-1, -1]), Float32Array.from([-1, -1])];
    const ref = [Float32Array.from([-3, -3]), Float32Array.from([-1, -1])]; // sequence 0 is 2 nats/token more likely now
    const s: RlConfig = { ...BASE, algo: 'reinforce++', filter: false, klCoef: 0.1, klEstimator: 'k1', klIn: 'reward' };
    const r = computeAdvantages(s, { rewards, logpOld: logp, logpRef: ref });
    // returns: seq0 [1 - 0.4, 1 - 0.2], seq1 [1, 1] -> standardised
    const want = standardise([0.6, 0.8, 1, 1]);
    expect(Array.from(r.advantages[0])).toEqual([expect.closeTo(want[0], 5), expect.closeTo(want[1], 5)]);
    expect(r.advantages[1][0]).toBeCloseTo(want[2], 5);
  });

  test('klIn "loss" (the default): the returns carry no KL, so it is counted once, in the loss', () => {
    const rewards = Float32Array.from([1, 0, 0.5, 2]);
    const logp = lp(2, 3, 2, 1);
    const ref = logp.map((l) => l.map((v) => v - 1.5));
    const s: RlConfig = { ...PLAIN, klCoef: 0.5 };
    expect(s.klIn).toBe('loss');
    const withRef = computeAdvantages(s, { rewards, logpOld: logp, logpRef: ref });
    const without = computeAdvantages(s, { rewards, logpOld: logp, logpRef: null });
    expect(flat(withRef.advantages)).toEqual(flat(without.advantages));
    // and the same settings with klIn 'reward' do change them (so the comparison above can fail)
    const shaped = computeAdvantages({ ...s, klIn: 'reward' }, { rewards, logpOld: logp, logpRef: ref });
    expect(flat(shaped.advantages)).not.toEqual(flat(without.advantages));
  });

  test('GRPO: group mean and (unbiased) std per prompt, the same advantage on every token', () => {
    const rewards = Float32Array.from([1, 0, 2, 2, 0.5, 1.5]);
    const logp = lp(2, 3, 1, 1, 2, 2);
    const r = computeAdvantages({ ...BASE, algo: 'grpo', filter: false }, { rewards, logpOld: logp, logpRef: null });
    const group = (a: number, b: number) => {
      const m = (a + b) / 2;
      const sd = Math.sqrt(((a - m) ** 2 + (b - m) ** 2) / 1);
      return [(a - m) / (sd + 1e-6), (b - m) / (sd + 1e-6)];
    };
    const want = [...group(1, 0), ...group(2, 2), ...group(0.5, 1.5)];
    r.advantages.forEach((a, b) => a.forEach((v) => expect(v).toBeCloseTo(want[b], 5)));
  });

  test('the default: RLOO among the prompt samples, groups with one reward dropped, then standardised', () => {
    // groups of 4: [1, 0, 0, 0] kept, [1, 1, 1, 1] dropped, [0, 0.5, 2, 0] kept
    const s: RlConfig = { ...BASE, samplesPerPrompt: 4, filter: false };
    const rewards = [1, 0, 0, 0, 1, 1, 1, 1, 0, 0.5, 2, 0];
    const logp = lp(...Array(12).fill(1));
    const r = computeAdvantages(s, { rewards, logpOld: logp, logpRef: null });
    expect(r.keep).toEqual([true, true, true, true, false, false, false, false, true, true, true, true]);
    expect(r.keptGroups).toBe(2);
    expect(r.valid).toBe(8);
    const rloo = [1, -1 / 3, -1 / 3, -1 / 3, 0 - 2.5 / 3, 0.5 - 2 / 3, 2 - 0.5 / 3, 0 - 2.5 / 3];
    const want = standardise(rloo);
    const kept = [0, 1, 2, 3, 8, 9, 10, 11];
    kept.forEach((b, i) => expect(r.advantages[b][0]).toBeCloseTo(want[i], 5));
    for (const b of [4, 5, 6, 7]) expect(r.advantages[b][0]).toBe(0);
  });

  test('a step whose groups all have one reward keeps nothing', () => {
    const r = computeAdvantages(BASE, { rewards: [0, 0, 1, 1], logpOld: lp(2, 2, 2, 2), logpRef: null });
    expect(r).toMatchObject({ keptGroups: 0, valid: 0, filtered: 0 });
    expect(r.keep).toEqual([false, false, false, false]);
    for (const a of r.advantages) expect(Array.from(a)).toEqual([0, 0]);
  });

  test('the verdict baseline centres the rewards per verdict among the kept rollouts', () => {
    const s: RlConfig = { ...BASE, baseline: 'verdict', filter: false };
    const rewards = [2, 0, 1, 1, 1.5, 0.5];
    const verdicts: (Verdict | null)[] = [1, 2, 1, 2, 1, null];
    const r = computeAdvantages(s, { rewards, verdicts, logpOld: lp(1, 1, 1, 1, 1, 1), logpRef: null });
    // group 1 ([1, 1]) dropped; among the rest: "1" -> {2, 1.5}, "2" -> {0}, none -> {0.5}
    expect(r.keep).toEqual([true, true, false, false, true, true]);
    const want = standardise([0.25, 0, -0.25, 0]);
    [0, 1, 4, 5].forEach((b, i) => expect(r.advantages[b][0]).toBeCloseTo(want[i], 5));
    expect(() => computeAdvantages(s, { rewards, logpOld: lp(1, 1, 1, 1, 1, 1), logpRef: null })).toThrow(/verdict/);
  });

  test.each([
    ['stable-reinforce (RLOO, dynamic filter, 3 sigma)', {}],
    ['verdict baseline', { baseline: 'verdict' }],
    ['no baseline with dynamic filtering', { baseline: 'none' }],
    ['RLOO without dynamic filtering', { dynamicFilter: false }],
    ['RLOO, the filter at 1 sigma (it fires)', { filterSigma: 1 }],
    ['GRPO', { algo: 'grpo' }],
    ['GRPO, filter on', { algo: 'grpo', filter: true }],
    ['reinforce++ with KL k3 in the returns', { algo: 'reinforce++', klIn: 'reward', klCoef: 0.2 }],
    ['RLOO with KL k2 in the returns', { klIn: 'reward', klCoef: 0.3, klEstimator: 'k2' }],
    ['KL in the loss: none in the returns', { klCoef: 0.3 }],
  ] as [string, Partial<RlConfig>][])('matches the float64 reference on random batches: %s', (_name, over) => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 25; trial++) {
      const g = 2 + rng.int(4);
      const s: RlConfig = { ...BASE, samplesPerPrompt: g, ...over };
      const B = g * (1 + rng.int(6));
      // few distinct values, so that some groups have one reward
      const rewards = Array.from({ length: B }, () => rng.pick([0, 0.5, 1.5, 2]));
      const verdicts = Array.from({ length: B }, () => rng.pick([1, 2, null] as const));
      const logpOld = Array.from({ length: B }, () => Float32Array.from({ length: 1 + rng.int(6) }, () => -(0.05 + 3 * rng.float())));
      const logpRef = logpOld.map((l) => l.map((v) => v + rng.float() - 0.5));
      expectMatches(s, rewards, verdicts, logpOld, logpRef);
    }
  });
});
