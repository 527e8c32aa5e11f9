/** Evaluation arithmetic and the honest summary: accuracies, hard subset, Voting@K, paired sign test. */
import type { GreedyOutput, VotingChunk } from '../../lib/train/evaluate';
import { summarizeGreedy, summarizeVoting, verdictOf } from '../../lib/train/evaluate';
import { pairedChange, signTestP, summaryLines } from '../../lib/train/summary';

function out(index: number, level: number, correct: boolean, extra: Partial<GreedyOutput> = {}): GreedyOutput {
  return {
    index,
    id: `s${index}`,
    label: 1,
    level,
    category: index % 2 ? 'count' : 'relation',
    verdict: correct ? 1 : 2,
    correct,
    format: 1,
    length: 10 + index,
    text: '',
    ...extra,
  };
}

describe('evaluation summaries', () => {
  test('verdicts are read strictly (one <answer> block), as the result reward does', () => {
    expect(verdictOf('<think>x</think><answer>2</answer>')).toBe(2);
    expect(verdictOf('<think>x</think><answer>3</answer>')).toBeNull();
    expect(verdictOf('<think>x</think>Final answer: 1')).toBeNull();
    expect(verdictOf('<answer>1</answer><answer>2</answer>')).toBeNull();
  });

  test('accuracy overall, on the hard levels, per level and category', () => {
    const outs = [out(0, 1, true), out(1, 1, false), out(2, 3, true), out(3, 4, false), out(4, 4, false, { verdict: null, format: 0 })];
    const s = summarizeGreedy(outs, [3, 4]);
    expect(s.accuracy).toBeCloseTo(2 / 5);
    expect(s.hard).toEqual({ n: 3, accuracy: 1 / 3 });
    expect(s.byLevel).toEqual({ '1': { n: 2, accuracy: 0.5 }, '3': { n: 1, accuracy: 1 }, '4': { n: 2, accuracy: 0 } });
    expect(s.byCategory.relation).toEqual({ n: 3, accuracy: 2 / 3 });
    expect(s.noVerdict).toBe(1);
    expect(s.formatRate).toBeCloseTo(0.8);
    expect(s.meanLength).toBeCloseTo(12);
  });

  test('Voting@K uses lib/eval majority voting; the hard subset is reported too', () => {
    const chunks: VotingChunk[] = [
      {
        chunk: 0,
        rows: [
          { index: 0, id: 'a', label: 1, level: 1, category: 'c', verdicts: [2, 1, 1], meanLength: 5 },
          { index: 1, id: 'b', label: 2, level: 4, category: 'c', verdicts: [null, 1, 2], meanLength: 5 },
        ],
      },
    ];
    const v = summarizeVoting(chunks, 3, [4]);
    expect(v.votingAtK).toEqual({ '1': 0, '2': 0, '3': 0.5 }); // a: 2 | 2,1 -> tie -> first (2) | 1 wins
    expect(v.anyCorrectAtK).toEqual({ '1': 0, '2': 0.5, '3': 1 });
    expect(v.hard.n).toBe(1);
    // One of the 6 samples had no readable verdict: it is no vote, and counted.
    expect(v.unreadable).toBeCloseTo(1 / 6, 12);
    // No greedy outputs given: the comparison figure is unknown, not 0.
    expect(v.greedy).toBeNull();
  });

  test('Voting@K carries the greedy accuracy on the same rows, matched by id; null when a row has no greedy output', () => {
    const rows = [
      { index: 0, id: 'a', label: 1 as const, level: 1, category: 'c', verdicts: [1, 1, 2] as (1 | 2 | null)[], meanLength: 5 },
      { index: 1, id: 'b', label: 2 as const, level: 4, category: 'c', verdicts: [2, 1, 2] as (1 | 2 | null)[], meanLength: 5 },
    ];
    // Greedy outputs in another order, with a row the voting did not use.
    const greedy = [
      { ...out(7, 1, true), id: 'z' },
      { ...out(1, 4, false), id: 'b' },
      { ...out(0, 1, true), id: 'a' },
    ];
    expect(summarizeVoting([{ chunk: 0, rows }], 3, [4], greedy).greedy).toBe(0.5);
    expect(summarizeVoting([{ chunk: 0, rows }], 3, [4], greedy.slice(0, 2)).greedy).toBeNull();
  });
});

describe('paired change between stage 1 and stage 2', () => {
  test('exact two-sided sign test', () => {
    expect(signTestP(0, 0)).toBe(1);
    expect(signTestP(5, 5)).toBe(1);
    expect(signTestP(10, 0)).toBeCloseTo(2 / 1024, 10);
    expect(signTestP(8, 2)).toBeCloseTo((2 * (1 + 10 + 45)) / 1024, 10);
  });

  test('counts fixed and broken samples and only calls a change real when it beats the noise', () => {
    const before = Array.from({ length: 40 }, (_, i) => out(i, 3, i < 20));
    const small = Array.from({ length: 40 }, (_, i) => out(i, 3, i < 22));
    const c1 = pairedChange(before, small);
    expect(c1).toMatchObject({ n: 40, before: 0.5, after: 0.55, fixed: 2, broken: 0, verdict: 'no clear change' });
    const big = Array.from({ length: 40 }, (_, i) => out(i, 3, i < 34));
    expect(pairedChange(before, big)).toMatchObject({ fixed: 14, broken: 0, verdict: 'helped' });
    expect(pairedChange(big, before)).toMatchObject({ fixed: 0, broken: 14, verdict: 'hurt' });
    const lines = summaryLines({
      stage1: summarizeGreedy(before, [3]),
      stage2: summarizeGreedy(small, [3]),
      overall: c1,
      hard: c1,
      voting: null,
      hardLevels: [3],
      rlSteps: 10,
      seconds: { sft: 10, rl: 20 },
      rlPool: { size: 5, fallback: false },
      skippedSteps: 0,
    });
    expect(lines.join('\n')).toMatch(/\+5\.0 points \(2 samples fixed, 0 broken, sign test p = 0\.500\): stage 2 made no change larger than the noise/);
    expect(lines.join('\n')).not.toMatch(/Position bias/);
    expect(lines.join('\n')).not.toMatch(/teacher misreads/);
    // With a teacher that errs: its blind spots on a line of their own, with their size and accuracies.
    const withBlind = summaryLines({
      stage1: summarizeGreedy(before, [3]),
      stage2: summarizeGreedy(big, [3]),
      overall: pairedChange(before, big),
      hard: null,
      blindSpots: pairedChange(before.slice(20, 30), big.slice(20, 30)),
      voting: null,
      hardLevels: [3],
      rlSteps: 10,
      seconds: {},
      rlPool: null,
      skippedSteps: 0,
    });
    expect(withBlind.join('\n')).toMatch(
      /where the teacher misreads \(10 test pairs, 0\.0% -> 100\.0%\): \+100\.0 points \(10 samples fixed, 0 broken, sign test p = 0\.002\): stage 2 helped/,
    );
  });

  test('the Voting@K line gives greedy on the same pairs and the share of samples that cast no vote', () => {
    const rows = [
      { index: 0, id: 'a', label: 1 as const, level: 1, category: 'c', verdicts: [1, null, 1, 1] as (1 | 2 | null)[], meanLength: 5 },
      { index: 1, id: 'b', label: 2 as const, level: 3, category: 'c', verdicts: [null, 1, null, 2] as (1 | 2 | null)[], meanLength: 5 },
    ];
    const greedy = [out(0, 1, true, { id: 'a' }), out(1, 3, true, { id: 'b', label: 2, verdict: 2 })];
    const lineOf = (sampling?: { temperature: number; topP: number }) =>
      summaryLines({
        stage1: summarizeGreedy(greedy, [3]),
        stage2: null,
        overall: null,
        hard: null,
        voting: { ...summarizeVoting([{ chunk: 0, rows }], 4, [3], greedy), sampling },
        hardLevels: [3],
        rlSteps: 0,
        seconds: {},
        rlPool: null,
        skippedSteps: 0,
      }).find((l) => l.startsWith('Voting@K'));
    // a is right at every k; b is wrong at every k: no vote at @1, and at @4 a tie goes to the first vote (1).
    const rest =
      'sampling, 2 test samples): @1 50.0%, @4 50.0%; any-correct@4 100.0%; greedy on the same samples 100.0%; 37.5% of the samples had no readable verdict (no vote).';
    expect(lineOf()).toBe(`Voting@K (final model, temperature ${rest}`); // a run from before the sampling was kept
    expect(lineOf({ temperature: 1, topP: 1 })).toBe(`Voting@K (final model, temperature 1 ${rest}`);
    expect(lineOf({ temperature: 0.7, topP: 0.9 })).toBe(`Voting@K (final model, temperature 0.7, top-p 0.9 ${rest}`);
  });

  test('a model that (nearly) always names the same position is called out', () => {
    // Labels alternate 1, 2; the model answers 1 for 19 of 20 pairs.
    const outs = Array.from({ length: 20 }, (_, i) => {
      const label = (1 + (i % 2)) as 1 | 2;
      const verdict = (i === 3 ? 2 : 1) as 1 | 2;
      return out(i, 3, verdict === label, { label, verdict });
    });
    const s = summarizeGreedy(outs, [3]);
    expect(s.answersOne).toBeCloseTo(0.95);
    expect(s.byLabel).toEqual({ '1': { n: 10, accuracy: 1 }, '2': { n: 10, accuracy: 0.1 } });
    const lines = summaryLines({
      stage1: s,
      stage2: null,
      overall: null,
      hard: null,
      voting: null,
      hardLevels: [3],
      rlSteps: 0,
      seconds: {},
      rlPool: null,
      skippedSteps: 0,
    });
    expect(lines.join('\n')).toMatch(
      /Position bias after stage 1: the model names Response 1 in 95\.0% of its test verdicts \(accuracy 100\.0% when Response 1 is better, 10\.0% when Response 2 is\)/,
    );
  });
});
