import { accuracyReport, anyCorrectAtK, majorityVote, votingAtK, type Evaluation } from '../../lib/eval';

const ev = (label: 1 | 2, verdicts: Array<1 | 2 | null>, extra: Partial<Evaluation> = {}): Evaluation => ({
  key: extra.key ?? `k${Math.random()}`,
  id: extra.id ?? extra.key ?? 'id',
  category: 'c',
  order: 'original',
  label,
  verdicts,
  ...extra,
});

describe('majorityVote', () => {
  it.each([
    [[1, 1, 2], 1],
    [[2, 1, 2], 2],
    [[1, 2], 1], // tie -> earliest sample's verdict
    [[2, 1], 2],
    [[null, 2, 1], 2], // failures abstain; tie -> earliest parsed
    [[null, null, 1], 1],
    [[null, null], null],
    [[], null],
    [[2, null, 1, 1], 1],
  ] as Array<[Array<1 | 2 | null>, 1 | 2 | null]>)('%j -> %s', (vs, want) => {
    expect(majorityVote(vs)).toBe(want);
  });
});

describe('Voting@k and Any-correct@k', () => {
  // Three pairs, K = 3, labels 1, 2, 1.
  const evals = [ev(1, [2, 1, 1]), ev(2, [2, 2, 1]), ev(1, [null, 2, 2])];

  it('Voting@k uses the first k samples', () => {
    // k=1: [2 x][2 ok][null x] -> 1/3; k=2: [2,1 tie->2 x][2,2 ok][null,2 ->2 x] -> 1/3; k=3: [1 ok][2 ok][2 x] -> 2/3
    const v = votingAtK(evals, 3);
    expect(v['1']).toBeCloseTo(1 / 3);
    expect(v['2']).toBeCloseTo(1 / 3);
    expect(v['3']).toBeCloseTo(2 / 3);
  });

  it('Any-correct@k: some sample among the first k is right', () => {
    const a = anyCorrectAtK(evals, 3);
    expect(a).toEqual({ '1': 1 / 3, '2': 2 / 3, '3': 2 / 3 });
  });

  it('the report: final verdict = Voting@K, mean sample accuracy, no-verdict count, macro', () => {
    const r = accuracyReport(
      [ev(1, [1], { category: 'a' }), ev(1, [2], { category: 'a' }), ev(2, [2], { category: 'b' }), ev(2, [null], { category: 'b' })],
      1,
    );
    expect(r.overall).toBe(0.5);
    expect(r.categories).toEqual({ a: { n: 2, accuracy: 0.5 }, b: { n: 2, accuracy: 0.5 } });
    expect(r.macro).toBe(0.5);
    expect(r.noVerdict).toBe(1);
    expect(r.byPreferredPosition).toEqual({ '1': { n: 2, accuracy: 0.5 }, '2': { n: 2, accuracy: 0.5 } });
    expect(r.orders).toBeUndefined();
    expect(r.positionConsistency).toBeUndefined();

    const K3 = accuracyReport(evals, 3);
    expect(K3.overall).toBeCloseTo(2 / 3);
    expect(K3.meanSampleAccuracy).toBeCloseTo(4 / 9); // right samples: 2 + 2 + 0 of 9
  });

  it('macro weighs categories equally', () => {
    const r = accuracyReport(
      [ev(1, [1], { category: 'big' }), ev(1, [1], { category: 'big' }), ev(1, [1], { category: 'big' }), ev(1, [2], { category: 'small' })],
      1,
    );
    expect(r.overall).toBe(0.75);
    expect(r.macro).toBe(0.5);
  });
});

describe('swap bookkeeping', () => {
  // A model that always answers "1": right whenever the preferred response is shown first.
  const pairs = [
    { key: 'p1', label: 1 as const },
    { key: 'p2', label: 2 as const },
    { key: 'p3', label: 1 as const },
  ];
  const alwaysOne: Evaluation[] = pairs.flatMap((p) => [
    ev(p.label, [1], { key: p.key, order: 'original' }),
    ev((3 - p.label) as 1 | 2, [1], { key: p.key, order: 'swapped' }),
  ]);

  it('a position-biased model: accuracy per order differs and consistency is 0', () => {
    const r = accuracyReport(alwaysOne, 1);
    expect(r.orders).toEqual({ original: { n: 3, accuracy: 2 / 3 }, swapped: { n: 3, accuracy: 1 / 3 } });
    expect(r.byPreferredPosition).toEqual({ '1': { n: 3, accuracy: 1 }, '2': { n: 3, accuracy: 0 } });
    expect(r.positionConsistency).toBe(0);
    expect(r.overall).toBe(0.5);
  });

  it('a consistent model picks the same underlying response in both orders, right or wrong', () => {
    const evals: Evaluation[] = [
      ev(1, [1], { key: 'a', order: 'original' }),
      ev(2, [2], { key: 'a', order: 'swapped' }), // same response: consistent and right
      ev(1, [2], { key: 'b', order: 'original' }),
      ev(2, [1], { key: 'b', order: 'swapped' }), // same (wrong) response: consistent
      ev(2, [2], { key: 'c', order: 'original' }),
      ev(1, [null], { key: 'c', order: 'swapped' }), // no verdict: inconsistent
      ev(1, [1], { key: 'd', order: 'original' }), // no swapped evaluation: not counted
    ];
    const r = accuracyReport(evals, 1);
    expect(r.positionConsistency).toBeCloseTo(2 / 3);
    expect(r.orders!.original).toEqual({ n: 4, accuracy: 0.75 });
    expect(r.orders!.swapped).toEqual({ n: 3, accuracy: 1 / 3 });
  });
});

describe('Acc+ and difficulty', () => {
  it('Acc+ counts ids whose rows are all right', () => {
    const r = accuracyReport(
      [ev(1, [1], { id: 'x', key: 'x' }), ev(1, [1], { id: 'x', key: 'x#2' }), ev(1, [1], { id: 'y', key: 'y' }), ev(2, [1], { id: 'y', key: 'y#2' })],
      1,
      { accPlus: true },
    );
    expect(r.accPlus).toEqual({ ids: 2, accuracy: 0.5 });
    expect(r.overall).toBe(0.75);
  });

  it('difficulty breakdown appears only when present', () => {
    expect(accuracyReport([ev(1, [1])], 1).difficulties).toBeUndefined();
    const r = accuracyReport([ev(1, [1], { difficulty: 1 }), ev(1, [2], { difficulty: 3 }), ev(1, [1])], 1);
    expect(r.difficulties).toEqual({ '1': { n: 1, accuracy: 1 }, '3': { n: 1, accuracy: 0 } });
  });
});
