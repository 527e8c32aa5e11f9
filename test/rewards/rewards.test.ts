import {
  combineReward,
  computeReward,
  computeRewards,
  createRewardStats,
  formatReward,
  normalizeLabel,
  parseVerdict,
  resultReward,
  extractAnalysis,
  RuleBasedJudge,
  type ConsistencyJudge,
} from '../../lib/rewards';

const good = (analysis: string, answer: string) => `<think>${analysis}</think><answer>${answer}</answer>`;

describe('formatReward', () => {
  it.each([
    ['well formed', good('Response 2 is better.', '2'), 1],
    ['multi-line analysis (dot matches newlines)', good('line 1\nline 2\nResponse 1 is better.', '1'), 1],
    ['empty analysis still has the shape', good('', '1'), 1],
    ['missing think', '<answer>1</answer>', 0],
    ['missing answer', '<think>x</think>', 0],
    ['text before the tags', 'Sure! ' + good('x', '1'), 0],
    ['text after the tags', good('x', '1') + ' done', 0],
    ['text between the tags', '<think>x</think> <answer>1</answer>', 0],
    ['two answers', '<think>x</think><answer>1</answer><answer>2</answer>', 0],
    ['two answers inside one block', '<think>x</think><answer>1</answer>x<answer>2</answer>', 0],
    ['two thinks', '<think>a</think><think>b</think><answer>1</answer>', 0],
    ['nested think tag', '<think>a<think>b</think><answer>1</answer>', 0],
    ['trailing newline (callers strip)', good('x', '1') + '\n', 0],
    ['empty', '', 0],
  ])('%s', (_name, text, want) => {
    expect(formatReward(text)).toBe(want);
  });

  it('rejects non-strings naming the argument', () => {
    expect(() => formatReward(undefined as unknown as string)).toThrow(/text must be a string/);
  });
});

describe('parseVerdict', () => {
  it.each([
    ['<answer>1</answer>', 1, 'answer'],
    ['<think>x</think><answer> 2 </answer>', 2, 'answer'],
    ['<answer>**2**</answer>', 2, 'answer'],
    ['<answer>Response 1</answer>', 1, 'answer'],
    ['<answer>2.</answer>', 2, 'answer'],
    ['<think>x</think><answer>2', 2, 'fallback'],
    ['<think>long analysis</think>\nFinal answer: 2', 2, 'fallback'],
    ['<think>long analysis</think>\n**Answer:** Response 1', 1, 'fallback'],
  ])('%j -> %s (%s)', (text, verdict, source) => {
    expect(parseVerdict(text)).toEqual({ ok: true, verdict, source });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['<think>Response 2 is better.</think>', 'no-answer'],
    ['I think 2 is better', 'no-answer'],
    ['<answer>3</answer>', 'invalid-answer'],
    ['<answer>1 or 2</answer>', 'invalid-answer'],
    ['<answer></answer>', 'invalid-answer'],
    ['<answer>12</answer>', 'invalid-answer'],
    ['<answer>1</answer><answer>2</answer>', 'multiple-answers'],
    ['<answer>1</answer><answer>1</answer>', 'multiple-answers'],
    ['</answer>1<answer>', 'invalid-answer'],
    // An unclosed answer with more text after it is not taken.
    ['<answer>2 because', 'no-answer'],
  ])('%j fails with %s (never a verdict)', (text, failure) => {
    const p = parseVerdict(text);
    expect(p.ok).toBe(false);
    expect(p.verdict).toBeNull();
    if (!p.ok) expect(p.failure).toBe(failure);
  });

  it('fallback can be turned off', () => {
    expect(parseVerdict('<think>x</think>\nAnswer: 2', { fallback: false }).ok).toBe(false);
    expect(parseVerdict('<think>x</think><answer>2', { fallback: false }).ok).toBe(false);
  });
});

describe('labels and resultReward', () => {
  it.each([[1], [2], ['1'], ['2'], ['<answer>2</answer>'], [' <answer> 1 </answer> '], [['<answer>2</answer>']]])('normalizes %j', (label) => {
    expect([1, 2]).toContain(normalizeLabel(label));
  });
  it.each([[3], ['3'], [''], [null], [undefined], [[]], [['1', '2']], ['<answer>x</answer>'], [1.5]])('rejects %j naming the field', (label) => {
    expect(() => normalizeLabel(label, 'labels[4]')).toThrow(/labels\[4\]/);
  });

  it.each([
    [good('Response 2 is better.', '2'), '2', 1],
    [good('Response 2 is better.', '2'), 1, 0],
    [good('x', '2'), '<answer>2</answer>', 1],
    ['<answer>2</answer>', 2, 1], // bad format still earns the result (format is its own reward)
    ['<think>x</think><answer>2</answer><answer>2</answer>', 2, 0], // two answers
    ['<think>x</think>Answer: 2', 2, 0], // no fallback in training
    ['<think>x</think><answer>3</answer>', 2, 0],
    ['', 1, 0],
  ])('resultReward(%j, %j) = %s', (text, label, want) => {
    expect(resultReward(text, label)).toBe(want);
  });
});

describe('combineReward', () => {
  it.each([
    [{ result: 1, consistency: 1, format: 1 }, 2],
    [{ result: 1, consistency: 0, format: 1 }, 1.5],
    [{ result: 1, consistency: -1, format: 1 }, 1],
    [{ result: 1, consistency: -1, format: 0 }, 0.5],
    [{ result: 0, consistency: 1, format: 1 }, 0.5],
    [{ result: 0, consistency: -1, format: 0 }, 0],
  ])('%j -> %s', (parts, want) => {
    expect(combineReward(parts)).toBeCloseTo(want, 12);
  });
  it('takes weights', () => {
    expect(combineReward({ result: 1, consistency: 1, format: 1 }, { consistency: 1, format: 0 })).toBe(2);
  });
  it('rejects out-of-range parts naming them', () => {
    expect(() => combineReward({ result: 2, consistency: 0, format: 0 })).toThrow(/parts\.result/);
    expect(() => combineReward({ result: 1, consistency: 0.5, format: 0 })).toThrow(/parts\.consistency/);
    expect(() => combineReward({ result: 1, consistency: 0, format: 1 }, { consistency: NaN, format: 0.5 })).toThrow(/weights\.consistency/);
  });
});

describe('computeReward', () => {
  const rule = new RuleBasedJudge();

  it('consistent, correct, well formed: 2', async () => {
    const r = await computeReward(good('Response 1 has an error.\nResponse 2 is better.', '2'), '2', rule);
    expect(r).toMatchObject({ result: 1, consistency: 1, format: 1, reward: 2, verdict: 2, judged: true });
  });

  it('inconsistent conclusion is penalised', async () => {
    const r = await computeReward(good('Overall, Response 1 is better.', '2'), 2, rule);
    expect(r).toMatchObject({ result: 1, consistency: -1, format: 1, reward: 1 });
  });

  it.each([
    ['missing tags', 'Response 2 is better. 2', 0],
    ['two answers', '<think>Response 2 is better.</think><answer>2</answer><answer>2</answer>', 0],
    ['text outside the tags', 'Here: <think>Response 2 is better.</think><answer>2</answer>', 1.5], // result 1 + consistency 1, format 0
    ['empty analysis', '<think></think><answer>2</answer>', 1.5], // judge finds no conclusion -> 0
    ['answer 3', '<think>Response 2 is better.</think><answer>3</answer>', 0.5],
    ['wrong answer', '<think>Response 1 is better.</think><answer>1</answer>', 0.5],
  ])('%s', async (_n, output, want) => {
    const r = await computeReward(output, 2, rule);
    expect(r.reward).toBeCloseTo(want, 12);
  });

  it('a throwing judge gives consistency 0, is counted, and never a free reward', async () => {
    const broken: ConsistencyJudge = {
      name: 'broken',
      judge: async () => {
        throw new Error('judge down');
      },
    };
    const stats = createRewardStats();
    const ok = await computeReward(good('Response 2 is better.', '2'), 2, broken, { stats });
    expect(ok).toMatchObject({ result: 1, consistency: 0, reward: 1.5, judgeError: 'judge down' });
    // Unparsable output: the authors' server gave Result 1 here; we give 0.
    const bad = await computeReward('<think>x</think><answer>oops</answer>', 2, broken, { stats });
    expect(bad).toMatchObject({ result: 0, consistency: 0, format: 1, reward: 0.5, judged: false });
    expect(stats).toMatchObject({ total: 2, judged: 1, judgeFailures: 1, notJudged: 1, lastJudgeError: 'judge down' });
  });

  it('a judge returning garbage is a failure too', async () => {
    const weird = { name: 'weird', judge: async () => 5 } as unknown as ConsistencyJudge;
    const stats = createRewardStats();
    const r = await computeReward(good('Response 2 is better.', '2'), 2, weird, { stats });
    expect(r.consistency).toBe(0);
    expect(stats.judgeFailures).toBe(1);
  });

  it('skips the judge when Result is 0 unless judgeAll', async () => {
    let calls = 0;
    const counting: ConsistencyJudge = { name: 'c', judge: async () => (calls++, 1) };
    await computeReward(good('Response 1 is better.', '1'), 2, counting);
    expect(calls).toBe(0);
    const r = await computeReward(good('Response 1 is better.', '1'), 2, counting, { judgeAll: true });
    expect(calls).toBe(1);
    expect(r).toMatchObject({ consistency: 1, reward: 0.5 });
  });

  it('a bad label is an error naming it', async () => {
    await expect(computeReward(good('x', '1'), 'yes', rule)).rejects.toThrow(/label/);
  });
});

describe('extractAnalysis', () => {
  it.each([
    ['<think> a b </think><answer>1</answer>', 'a b'],
    ['pre <think>a</think>', 'a'],
    ['a</think><answer>1</answer>', 'a'],
    ['no tags at all <answer>1</answer>', 'no tags at all'],
  ])('%j -> %j', (text, want) => {
    expect(extractAnalysis(text)).toBe(want);
  });
});

describe('computeRewards (batch)', () => {
  it('pairs outputs with labels and shares the stats', async () => {
    const stats = createRewardStats();
    const r = await computeRewards(
      [good('Response 2 is better.', '2'), good('Response 1 is better.', '1'), 'junk'],
      [2, '<answer>2</answer>', '1'],
      new RuleBasedJudge(),
      { stats },
    );
    expect(r.map((x) => x.reward)).toEqual([2, 0.5, 0]);
    expect(stats.total).toBe(3);
  });
  it('names the bad field', async () => {
    const j = new RuleBasedJudge();
    await expect(computeRewards(['a'], [1, 2], j)).rejects.toThrow(/labels must have as many items as outputs/);
    await expect(computeRewards(['a', 'b'], [1, 'x'], j)).rejects.toThrow(/labels\[1\]/);
    await expect(computeRewards(['a', 5 as unknown as string], [1, 1], j)).rejects.toThrow(/outputs\[1\]/);
  });
});
