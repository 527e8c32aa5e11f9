import { Rng } from '../../lib/data/rng';
import * as kernels from '../../lib/kernels';
import { groupBaselineAdvantages, informativeGroups, shuffledLabels, standardise, verdictConditionalAdvantages } from '../../lib/train/rl-regime';

/** Fresh random rewards: binary, or with the R1 reward's values, or continuous. */
function randomRewards(rng: Rng, n: number): number[] {
  const kind = rng.int(3);
  return Array.from({ length: n }, () => (kind === 0 ? rng.int(2) : kind === 1 ? rng.pick([0, 0.5, 1.25, 1.75, 2]) : rng.range(-3, 3)));
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol);
}

describe('verdictConditionalAdvantages', () => {
  test('matches a direct reference: reward minus the mean of the rollouts with the same verdict', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rng.int(40);
      const r = randomRewards(rng, n);
      const v = Array.from({ length: n }, () => rng.pick([1, 2, null] as const));
      const ref = r.map((x, i) => {
        const same = r.filter((_, j) => v[j] === v[i]);
        return x - same.reduce((a, y) => a + y, 0) / same.length;
      });
      close(verdictConditionalAdvantages(r, v), ref);
    }
  });

  test('each verdict class sums to zero, so the share of "1" gets no push as a whole', () => {
    const a = verdictConditionalAdvantages([1, 1, 0, 1, 0, 0], [1, 1, 1, 2, 2, null]);
    expect(a[0] + a[1] + a[2]).toBeCloseTo(0, 12);
    expect(a[3] + a[4]).toBeCloseTo(0, 12);
    expect(a[5]).toBe(0);
    close(a, [1 / 3, 1 / 3, -2 / 3, 0.5, -0.5, 0], 1e-12);
  });

  test('bad input is refused with the argument named', () => {
    expect(() => verdictConditionalAdvantages([1, 0], [1])).toThrow(/verdicts/);
    expect(() => verdictConditionalAdvantages([1, NaN], [1, 2])).toThrow(/rewards\[1\]/);
    expect(() => verdictConditionalAdvantages([1], [3 as never])).toThrow(/verdicts\[0\]/);
  });
});

describe('groupBaselineAdvantages', () => {
  test('rloo, group-mean and grpo match direct references on random groups', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 50; trial++) {
      const g = 1 + rng.int(8);
      const n = g * (1 + rng.int(6));
      const r = randomRewards(rng, n);
      const rloo: number[] = [];
      const gm: number[] = [];
      const grpo: number[] = [];
      for (let s = 0; s < n; s += g) {
        const grp = r.slice(s, s + g);
        const m = grp.reduce((a, x) => a + x, 0) / g;
        const sd = g > 1 ? Math.sqrt(grp.reduce((a, x) => a + (x - m) ** 2, 0) / (g - 1)) : 0;
        grp.forEach((x, k) => {
          const others = grp.filter((_, j) => j !== k);
          rloo.push(others.length ? x - others.reduce((a, y) => a + y, 0) / others.length : 0);
          gm.push(x - m);
          grpo.push((x - m) / (sd + 1e-6));
        });
      }
      close(groupBaselineAdvantages(r, g, 'rloo'), rloo);
      close(groupBaselineAdvantages(r, g, 'group-mean'), gm);
      close(groupBaselineAdvantages(r, g, 'grpo'), grpo, 1e-6);
    }
  });

  test('grpo equals the group_advantages kernel the trainer uses (unbiased std)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 30; trial++) {
      const g = 2 + rng.int(7);
      const r = randomRewards(rng, g * (1 + rng.int(5)));
      const t = kernels.groupAdvantages(Float32Array.from(r), { groupSize: g });
      close(groupBaselineAdvantages(r, g, 'grpo'), t.toArray() as Float32Array, 2e-5 * (1 + Math.max(...r.map(Math.abs))));
      t.dispose();
    }
  });

  test('RLOO is the group-mean advantage scaled by g / (g - 1)', () => {
    const r = [1, 0, 0, 1, 1, 1, 0, 1];
    const a = groupBaselineAdvantages(r, 4, 'rloo');
    const b = groupBaselineAdvantages(r, 4, 'group-mean');
    close(
      a,
      Array.from(b, (x) => (x * 4) / 3),
    );
  });

  test('bad input is refused', () => {
    expect(() => groupBaselineAdvantages([1, 0, 1], 2, 'rloo')).toThrow(/multiple of groupSize/);
    expect(() => groupBaselineAdvantages([1, 0], 0, 'rloo')).toThrow(/groupSize/);
    expect(() => groupBaselineAdvantages([1, 0], 2, 'x' as never)).toThrow(/kind/);
    expect(() => groupBaselineAdvantages([1, Infinity], 2, 'grpo')).toThrow(/rewards\[1\]/);
  });
});

describe('informativeGroups (dynamic filtering)', () => {
  test('keeps the groups with at least two different rewards', () => {
    expect(informativeGroups([1, 1, 0, 1, 0, 0], 3)).toEqual([true, true, true, true, true, true]);
    expect(informativeGroups([1, 1, 1, 0, 1, 0], 3)).toEqual([false, false, false, true, true, true]);
    expect(informativeGroups([0.5, 0.5, 2, 2], 2)).toEqual([false, false, false, false]);
    expect(informativeGroups([1, 0], 1)).toEqual([false, false]);
  });

  test('matches a direct reference on random rewards', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 30; trial++) {
      const g = 1 + rng.int(6);
      const r = randomRewards(rng, g * (1 + rng.int(5)));
      const ref = r.map((_, i) => new Set(r.slice(i - (i % g), i - (i % g) + g)).size > 1);
      expect(informativeGroups(r, g)).toEqual(ref);
    }
  });
});

describe('standardise', () => {
  test('z-scores over the kept entries, 0 elsewhere', () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + rng.int(30);
      const x = randomRewards(rng, n);
      const keep = x.map(() => rng.chance(0.7));
      const k = x.filter((_, i) => keep[i]);
      const m = k.reduce((a, y) => a + y, 0) / Math.max(1, k.length);
      const sd = Math.sqrt(k.reduce((a, y) => a + (y - m) ** 2, 0) / Math.max(1, k.length));
      close(
        standardise(x, keep),
        x.map((y, i) => (keep[i] ? (y - m) / (sd + 1e-6) : 0)),
        1e-6,
      );
    }
    expect(Array.from(standardise([2, 2, 2]))).toEqual([0, 0, 0]);
    expect(Array.from(standardise([1, 2], [false, false]))).toEqual([0, 0]);
    expect(() => standardise([1, 2], [true])).toThrow(/keep/);
  });
});

describe('shuffledLabels', () => {
  test('a seeded permutation: same counts, same seed same order, input untouched', () => {
    const labels = Array.from({ length: 200 }, (_, i) => ((i % 2) + 1) as 1 | 2);
    const a = shuffledLabels(labels, new Rng(5));
    expect(a).toEqual(shuffledLabels(labels, new Rng(5)));
    expect(a.filter((x) => x === 1).length).toBe(100);
    expect(a).not.toEqual(labels);
    expect(labels[0]).toBe(1);
    // About half of the shuffled labels agree with the true ones: the control's rewards carry no signal.
    const agree = a.filter((x, i) => x === labels[i]).length;
    expect(agree).toBeGreaterThan(70);
    expect(agree).toBeLessThan(130);
  });
});
