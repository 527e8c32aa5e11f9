import {
  Curriculum,
  CurriculumItem,
  attemptOutcomes,
  attemptsNeeded,
  difficultyFromVerdicts,
  difficultyHistogram,
  failedAll,
  isHard,
  parseSchedule,
  selectHard,
} from '../../lib/train/curriculum';

describe('difficulty: attempts needed (the paper)', () => {
  test.each([
    [[true], 1],
    [[false, true], 2],
    [[false, false, true], 3],
    [[false, false, false], 4],
    [[true, false, false], 1], // outcomes after the first right one do not matter
    [[false, false, false, true], 4], // a 4th attempt is past the limit of 3
  ])('%j -> %i', (outcomes, needed) => {
    expect(attemptsNeeded(outcomes)).toBe(needed);
  });

  test('hard = needed >= 2 or failed all', () => {
    expect([1, 2, 3, 4].map((d) => isHard(d))).toEqual([false, true, true, true]);
    expect(failedAll(4)).toBe(true);
    expect(failedAll(3)).toBe(false);
    expect(isHard(2, 3)).toBe(false);
    const items = [{ d: 1 }, { d: 3 }, { d: 4 }, { d: 1 }, { d: 2 }];
    expect(selectHard(items, (x) => x.d)).toEqual([{ d: 3 }, { d: 4 }, { d: 2 }]);
  });

  test('other attempt limits', () => {
    expect(attemptsNeeded([false, false, false, false, true], 5)).toBe(5);
    expect(attemptsNeeded([false], 1)).toBe(2);
    expect(difficultyHistogram([1, 2, 2, 4])).toEqual({ 1: 1, 2: 2, 3: 0, 4: 1 });
  });

  test('from verdicts: unparseable verdicts count as wrong', () => {
    expect(attemptOutcomes([2, null, 1], 1)).toEqual([false, false, true]);
    expect(difficultyFromVerdicts([null, 2, 2], 2)).toBe(2);
    expect(difficultyFromVerdicts([1, 1, null], 2)).toBe(4);
  });

  test('incomplete or malformed attempts throw with the argument named', () => {
    expect(() => attemptsNeeded([false, false])).toThrow(/give all 3 attempts/);
    expect(() => attemptsNeeded([false, 1 as never, true])).toThrow(/correct\[1\] must be a boolean/);
    expect(() => attemptsNeeded([true], 0)).toThrow(/maxAttempts/);
    expect(() => attemptOutcomes([3 as never], 1)).toThrow(/verdicts\[0\]/);
    expect(() => attemptOutcomes([1], 0 as never)).toThrow(/label must be 1 or 2/);
    expect(() => isHard(0)).toThrow(/difficulty/);
    expect(() => difficultyHistogram([5])).toThrow(/difficulties\[0\]/);
  });
});

// 40 items: levels 1..4 (10 each), hardness 2..4 cycling.
const items: CurriculumItem[] = Array.from({ length: 40 }, (_, i) => ({ level: (i % 4) + 1, hardness: (i % 3) + 2 }));

describe('Curriculum', () => {
  test('none: every item from step 0; each pass over the pool sees every item once', () => {
    const c = new Curriculum(items, { schedule: { kind: 'none' }, totalSteps: 20, batchSize: 8, seed: 1 });
    expect(c.phaseAt(0).pool).toHaveLength(40);
    const seen = Array.from({ length: 5 }, (_, s) => c.batch(s)).flat();
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(c.describe()).toHaveLength(1);
  });

  test('linear by level: starts with level 1, adds one level at equal intervals, all in by rampEnd', () => {
    const c = new Curriculum(items, { schedule: { kind: 'linear', by: 'level', rampEnd: 0.6 }, totalSteps: 100, batchSize: 4, seed: 3 });
    expect(c.describe().map((p) => [p.from, p.keys])).toEqual([
      [0, [1]],
      [20, [1, 2]],
      [40, [1, 2, 3]],
      [60, [1, 2, 3, 4]],
    ]);
    for (let step = 0; step < 120; step++) {
      const allowed = step < 20 ? 1 : step < 40 ? 2 : step < 60 ? 3 : 4;
      for (const i of c.batch(step)) expect(items[i].level).toBeLessThanOrEqual(allowed);
    }
    // Steps past the end keep the full pool.
    expect(c.phaseAt(500).keys).toEqual([1, 2, 3, 4]);
  });

  test('linear hard-first by hardness, with two buckets at the start', () => {
    const c = new Curriculum(items, {
      schedule: { kind: 'linear', by: 'hardness', start: 2, order: 'hard-first', rampEnd: 0.5 },
      totalSteps: 10,
      batchSize: 4,
      seed: 3,
    });
    expect(c.describe().map((p) => [p.from, p.keys])).toEqual([
      [0, [3, 4]],
      [5, [2, 3, 4]],
    ]);
    for (const i of c.batch(0)) expect(items[i].hardness).toBeGreaterThanOrEqual(3);
  });

  test('staged: explicit pools; stages that round to one step keep the later one; empty stages fall back to all items', () => {
    const schedule = parseSchedule('staged:level:0=1,2;0.5=3;0.51=3,4;0.8=9');
    const c = new Curriculum(items, { schedule, totalSteps: 10, batchSize: 5, seed: 2 });
    expect(c.describe().map((p) => [p.from, p.keys, p.fallback])).toEqual([
      [0, [1, 2], false],
      [5, [3, 4], false],
      [8, [9], true],
    ]);
    for (const i of c.batch(6)) expect([3, 4]).toContain(items[i].level);
    expect(c.phaseAt(9).pool).toHaveLength(40);
  });

  test('batches are a pure function of (seed, step): a resumed run draws the same; another seed draws differently', () => {
    const opts = { schedule: parseSchedule('linear:level:rampEnd=0.5'), totalSteps: 30, batchSize: 6, seed: 11 };
    const a = new Curriculum(items, opts);
    const full = Array.from({ length: 30 }, (_, s) => a.batch(s));
    const resumed = new Curriculum(items, opts);
    expect(Array.from({ length: 12 }, (_, k) => resumed.batch(18 + k))).toEqual(full.slice(18));
    const other = new Curriculum(items, { ...opts, seed: 12 });
    expect(Array.from({ length: 30 }, (_, s) => other.batch(s))).not.toEqual(full);
  });

  test('within a phase no item repeats before the whole pool has been drawn', () => {
    const c = new Curriculum(items, { schedule: { kind: 'linear', by: 'level', rampEnd: 0.5 }, totalSteps: 40, batchSize: 3, seed: 5 });
    // Phase 0 (level 1 only, 10 items) lasts steps 0..6: 21 draws = 2 full passes + 1.
    const draws = Array.from({ length: 7 }, (_, s) => c.batch(s)).flat();
    expect(new Set(draws.slice(0, 10)).size).toBe(10);
    expect(new Set(draws.slice(10, 20)).size).toBe(10);
    // A batch larger than the pool wraps around.
    const big = new Curriculum(items.slice(0, 3), { schedule: { kind: 'none' }, totalSteps: 2, batchSize: 7, seed: 1 });
    expect(big.batch(0)).toHaveLength(7);
  });

  test('parseSchedule reads the text forms and names mistakes', () => {
    expect(parseSchedule('none')).toEqual({ kind: 'none' });
    expect(parseSchedule('linear:hardness:start=2,rampEnd=0.7,order=hard-first')).toEqual({
      kind: 'linear',
      by: 'hardness',
      start: 2,
      rampEnd: 0.7,
      order: 'hard-first',
    });
    expect(parseSchedule('staged:level:0=1;0.5=1,2')).toEqual({
      kind: 'staged',
      by: 'level',
      stages: [
        { from: 0, keys: [1] },
        { from: 0.5, keys: [1, 2] },
      ],
    });
    expect(() => parseSchedule('linear:size')).toThrow(/'level' or 'hardness'/);
    expect(() => parseSchedule('linear:level:speed=2')).toThrow(/unknown linear option "speed"/);
    expect(() => parseSchedule('staged:level:0-1')).toThrow(/bad stage/);
    expect(() => parseSchedule('cosine:level')).toThrow(/schedule kind/);
  });

  test('bad options name the field', () => {
    const base = { schedule: { kind: 'none' as const }, totalSteps: 10, batchSize: 2, seed: 0 };
    expect(() => new Curriculum([], base)).toThrow(/items must be a non-empty array/);
    expect(() => new Curriculum(items, { ...base, totalSteps: 0 })).toThrow(/options\.totalSteps/);
    expect(() => new Curriculum(items, { ...base, batchSize: 1.5 })).toThrow(/options\.batchSize/);
    expect(() => new Curriculum(items, { ...base, seed: -1 })).toThrow(/options\.seed/);
    expect(() => new Curriculum([{ hardness: 2 }], { ...base, schedule: { kind: 'linear', by: 'level' } })).toThrow(/items\[0\]\.level must be an integer/);
    expect(() => new Curriculum(items, { ...base, schedule: { kind: 'linear', by: 'level', rampEnd: 2 } })).toThrow(/rampEnd/);
    expect(() => new Curriculum(items, { ...base, schedule: { kind: 'staged', by: 'level', stages: [{ from: 0.1, keys: [1] }] } })).toThrow(
      /stages\[0\]\.from must be 0/,
    );
    expect(
      () =>
        new Curriculum(items, {
          ...base,
          schedule: {
            kind: 'staged',
            by: 'level',
            stages: [
              { from: 0, keys: [1] },
              { from: 0, keys: [2] },
            ],
          },
        }),
    ).toThrow(/stages\[1\]\.from/);
    expect(() => new Curriculum(items, base).batch(-1)).toThrow(/step must be/);
  });
});
