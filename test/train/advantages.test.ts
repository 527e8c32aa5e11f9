/** Advantages of the three algorithms, checked against float64 arithmetic written out here. */
import { DEFAULTS, type RlConfig } from '../../lib/train/config';
import { computeAdvantages } from '../../lib/train/rl';

// The default RL settings (stable-reinforce: Pre-CLIP, filter at 3 sigma, the paper's rule, no KL) in groups of 2.
const BASE: RlConfig = { ...DEFAULTS.rl, samplesPerPrompt: 2, ppoEpochs: 1, miniBatchSize: 4, maxNewTokens: 8 };

function lp(...lengths: number[]): Float32Array[] {
  return lengths.map((L, b) => Float32Array.from({ length: L }, (_, t) => -0.1 - 0.01 * (b + t)));
}

function standardise(values: number[]): number[] {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
  return values.map((v) => (v - m) / (sd + 1e-8));
}

describe('computeAdvantages', () => {
  test('REINFORCE++ (gamma 1, no KL): every token of a sequence gets its reward, standardised over all tokens', () => {
    const rewards = Float32Array.from([1.5, 0, 2, 0.5]);
    const logp = lp(3, 1, 2, 4);
    const r = computeAdvantages({ ...BASE, algo: 'reinforce++', filter: false }, rewards, logp, null);
    const tokens = logp.flatMap((l, b) => Array.from(l, () => rewards[b]));
    const want = standardise(tokens);
    expect(r.advantages.map((a) => a.length)).toEqual([3, 1, 2, 4]);
    const got = r.advantages.flatMap((a) => Array.from(a));
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(r.filtered).toBe(0);
    expect(r.valid).toBe(10);
  });

  test('the Advantage Filter zeroes |z| > 3 and counts the tokens', () => {
    // 40 one-token sequences: 39 with reward 0 and 1 with reward 10 -> that one has z = sqrt(39) > 3.
    const rewards = new Float32Array(40);
    rewards[7] = 10;
    const logp = lp(...Array(40).fill(1));
    const on = computeAdvantages(BASE, rewards, logp, null);
    expect(on.filtered).toBe(1);
    expect(on.advantages[7][0]).toBe(0);
    expect(on.advantages[0][0]).toBeCloseTo(-1 / Math.sqrt(39), 5);
    const off = computeAdvantages({ ...BASE, filter: false }, rewards, logp, null);
    expect(off.filtered).toBe(0);
    expect(off.advantages[7][0]).toBeCloseTo(Math.sqrt(39), 4);
  });

  test('a KL penalty against the reference model lowers the returns of tokens that moved away from it', () => {
    const rewards = Float32Array.from([1, 1]);
    const logp = [Float32Array.from([-1, -1]), Float32Array.from([-1, -1])];
    const ref = [Float32Array.from([-3, -3]), Float32Array.from([-1, -1])]; // sequence 0 is 2 nats/token more likely now
    const r = computeAdvantages({ ...BASE, algo: 'reinforce++', filter: false, klCoef: 0.1 }, rewards, logp, ref);
    // returns: seq0 [1 - 0.4, 1 - 0.2], seq1 [1, 1] -> standardised
    const want = standardise([0.6, 0.8, 1, 1]);
    expect(Array.from(r.advantages[0])).toEqual([expect.closeTo(want[0], 5), expect.closeTo(want[1], 5)]);
    expect(r.advantages[1][0]).toBeCloseTo(want[2], 5);
  });

  test('GRPO: group mean and (unbiased) std per prompt, the same advantage on every token', () => {
    const rewards = Float32Array.from([1, 0, 2, 2, 0.5, 1.5]);
    const logp = lp(2, 3, 1, 1, 2, 2);
    const r = computeAdvantages({ ...BASE, algo: 'grpo', filter: false }, rewards, logp, null);
    const group = (a: number, b: number) => {
      const m = (a + b) / 2;
      const sd = Math.sqrt(((a - m) ** 2 + (b - m) ** 2) / 1);
      return [(a - m) / (sd + 1e-6), (b - m) / (sd + 1e-6)];
    };
    const want = [...group(1, 0), ...group(2, 2), ...group(0.5, 1.5)];
    r.advantages.forEach((a, b) => a.forEach((v) => expect(v).toBeCloseTo(want[b], 5)));
  });
});
