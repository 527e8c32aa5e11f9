/**
 * The parsers that read model output and request text run in linear time (issue 18): the regexes they replaced
 * (test/rewards/helpers/backtracking-reference.ts) backtracked quadratically or worse on long runs of one
 * character, so a single request could stall the reward service.
 *  - on random short texts built from the tokens those regexes care about, each scanner gives exactly what its
 *    regex gave;
 *  - on ~1 MB of adversarial text (the repros and variants) each returns the right result. A quadratic
 *    version takes minutes to hours on these inputs (the issue measured 23 s for 100 kB of spaces, 27 s for 4 kB
 *    in the final-line rule); the jest timeout of each test is the guard, no clock is read.
 */
import { isSpaceCode } from '../../lib/internal/text';
import { conclusionPreference, formatReward, normalizeLabel, parseAnswerContent, parseVerdict, ruleConsistency } from '../../lib/rewards';
import { stripEmphasis } from '../../lib/rewards/judge';
import { finalLineVerdict } from '../../lib/rewards/verdict';
import { getRewards } from '../../lib/serve/protocol';
import { RuleBasedJudge } from '../../lib/rewards/judge';
import { Rng, TEST_SEED } from '../helpers/random';
import {
  conclusionPreferenceReference,
  emphasisReference,
  finalLineReference,
  formatShapeReference,
  parseAnswerContentReference,
} from './helpers/backtracking-reference';
import { countOccurrences } from '../../lib/rewards/verdict';

const MB = 1 << 20;
const spaces = (n: number) => ' '.repeat(n);
/** Each adversarial test: well over what a linear scan of 1 MB needs, far under what the old regexes need. */
const GUARD_MS = 20_000;

const TOKENS = [
  ' ',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u3000',
  '*',
  '**',
  '_',
  '`',
  '#',
  '>',
  '"',
  "'",
  '[',
  ']',
  '(',
  ')',
  '.',
  ':',
  '\uff1a',
  ',',
  ';',
  '!',
  '-',
  '1',
  '2',
  '3',
  '12',
  'a',
  'x',
  'é',
  'R',
  'K',
  '\u212a',
  'answer',
  'Answer',
  'ANSWER',
  'final',
  'Final',
  'verdict',
  'choice',
  'decision',
  'is',
  'response',
  'Response',
  'responses',
  'output',
  'candidate',
  'no.',
  'number',
  'one',
  'two',
  '#1',
  '(2)',
  'the',
  'first',
  'second',
  '1st',
  '2nd',
  'former',
  'latter',
  'than',
  'over',
  'to',
  'compared',
  'with',
  'unlike',
  'vs.',
  'but',
  'however',
  'although',
  'while',
  'so',
  'better',
  'worse',
  'best',
  'more',
  'accurate',
  'less',
  'prefer',
  'choose',
  'chosen',
  'not',
  "n't",
  'cannot',
  'never',
  'both',
  'neither',
  'equally',
  'tie',
  'fails',
  'errors',
  'good',
  '<answer>',
  '</answer>',
  '<think>',
  '</think>',
  '\u2019',
];

function randomText(rng: Rng, maxTokens: number): string {
  const n = rng.int(0, maxTokens + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += TOKENS[rng.int(0, TOKENS.length)];
  return s;
}

const CASES = 4000;

describe(`the scanners agree with the regexes they replaced (seed ${TEST_SEED})`, () => {
  it('isSpaceCode is \\s for every UTF-16 code unit', () => {
    for (let c = 0; c < 0x10000; c++) {
      if (isSpaceCode(c) !== /\s/.test(String.fromCharCode(c))) throw new Error(`U+${c.toString(16)}: isSpaceCode ${isSpaceCode(c)}`);
    }
  });

  it('parseAnswerContent', () => {
    const rng = new Rng(TEST_SEED);
    for (let i = 0; i < CASES; i++) {
      const s = randomText(rng, 8);
      expect([s, parseAnswerContent(s)]).toEqual([s, parseAnswerContentReference(s)]);
    }
  });

  it('the final-line rule (parseVerdict fallback b)', () => {
    const rng = new Rng(TEST_SEED + 1);
    let matched = 0;
    for (let i = 0; i < CASES; i++) {
      // Half the lines are built like verdict lines, part by part with random slips, so both outcomes are common.
      const pick = (xs: string[]) => xs[rng.int(0, xs.length)];
      const s =
        rng.next() < 0.5
          ? randomText(rng, 6)
          : pick(['', '**', '- ', '1', 'é']) +
            pick(['', 'final ', 'Final\t', 'final']) +
            pick(['answer', 'Verdict', 'CHOICE', 'answers']) +
            pick(['', ' ', ' is', ' is ', 'is', ' island']) +
            pick(['', ':', '：', ';']) +
            pick(['', ' ', ' *', '_ ', '**']) +
            pick(['', 'response ', 'Response', 'responses ']) +
            pick(['1', '2', '3', '1a', 'x']) +
            pick(['', '.', '**', ' !', '_', ' a', 'é']);
      const want = finalLineReference(s);
      if (want !== null) matched++;
      expect([s, finalLineVerdict(s)]).toEqual([s, want]);
    }
    expect(matched).toBeGreaterThan(20);
  });

  it('formatReward', () => {
    const rng = new Rng(TEST_SEED + 2);
    let ones = 0;
    for (let i = 0; i < CASES; i++) {
      const s =
        rng.next() < 0.5
          ? `<think>${randomText(rng, 4)}</think><answer>${randomText(rng, 3)}</answer>${rng.next() < 0.3 ? randomText(rng, 1) : ''}`
          : randomText(rng, 10);
      const want = formatShapeReference(s) && ['<think>', '</think>', '<answer>', '</answer>'].every((t) => countOccurrences(s, t) === 1) ? 1 : 0;
      ones += want;
      expect([s, formatReward(s)]).toEqual([s, want]);
    }
    expect(ones).toBeGreaterThan(20);
  });

  it('the emphasis marks the rule-based judge removes', () => {
    const rng = new Rng(TEST_SEED + 3);
    const marks = ['*', '_', '`', '#', '>', 'a', 'b1', ' ', '__', '**', '_a', 'é'];
    for (let i = 0; i < CASES; i++) {
      let s = '';
      for (let k = rng.int(0, 12); k > 0; k--) s += marks[rng.int(0, marks.length)];
      expect([s, stripEmphasis(s)]).toEqual([s, emphasisReference(s)]);
    }
  });

  it('conclusionPreference (the rule-based consistency judge)', () => {
    const rng = new Rng(TEST_SEED + 4);
    const seen = new Set<unknown>();
    for (let i = 0; i < CASES; i++) {
      const s = randomText(rng, 30);
      const want = conclusionPreferenceReference(s);
      seen.add(want);
      expect([s, conclusionPreference(s)]).toEqual([s, want]);
    }
    expect(seen).toEqual(new Set([1, 2, 'both', null]));
  });
});

describe('~1 MB of adversarial text gets the right answer (the old regexes needed minutes or more)', () => {
  it(
    'parseVerdict: long runs of spaces inside an answer (issue repro 1)',
    () => {
      expect(parseVerdict('<answer>1' + spaces(MB) + 'x</answer>')).toMatchObject({ ok: false, failure: 'invalid-answer' });
      expect(parseVerdict('<answer>1' + spaces(MB) + '</answer>')).toEqual({ ok: true, verdict: 1, source: 'answer' });
      expect(parseVerdict('<answer>' + '*'.repeat(MB) + '2' + ')'.repeat(MB) + '</answer>')).toEqual({ ok: true, verdict: 2, source: 'answer' });
      expect(parseAnswerContent('"'.repeat(MB) + 'x')).toBeNull();
      expect(parseVerdict('<answer>' + spaces(MB) + 'response' + spaces(MB) + '2' + spaces(MB))).toEqual({ ok: true, verdict: 2, source: 'fallback' });
    },
    GUARD_MS,
  );

  it(
    'parseVerdict: the final-line rule on long lines (issue repro 1, cubic before)',
    () => {
      expect(parseVerdict('answer' + spaces(MB) + 'x')).toMatchObject({ ok: false, failure: 'no-answer' });
      expect(parseVerdict('answer' + spaces(MB) + '2')).toEqual({ ok: true, verdict: 2, source: 'fallback' });
      expect(
        parseVerdict(
          '<think>x</think>\n**Final' +
            spaces(MB) +
            'answer is' +
            spaces(MB) +
            '\uff1a' +
            ' *_'.repeat(MB / 4) +
            'Response' +
            spaces(MB) +
            '1' +
            '!'.repeat(MB),
        ),
      ).toEqual({
        ok: true,
        verdict: 1,
        source: 'fallback',
      });
      expect(parseVerdict('verdict' + '\t'.repeat(MB) + '!')).toMatchObject({ ok: false });
      expect(parseVerdict('\n'.repeat(MB) + 'Answer: 1' + '\n'.repeat(MB))).toEqual({ ok: true, verdict: 1, source: 'fallback' });
    },
    GUARD_MS,
  );

  it(
    'the rule-based judge: runs of spaces after a reference, of emphasis marks, many mentions, many contrasts',
    () => {
      expect(conclusionPreference('response' + spaces(MB) + 'x')).toBeNull();
      expect(conclusionPreference('Response' + spaces(MB) + '2 is better.')).toBe(2);
      expect(conclusionPreference('Final verdict' + spaces(MB) + 'x')).toBeNull();
      expect(conclusionPreference('Final verdict' + spaces(MB) + '1')).toBe(1);
      expect(conclusionPreference('*'.repeat(MB) + ' ')).toBeNull();
      expect(conclusionPreference('*'.repeat(MB) + 'Response 1 is better.')).toBe(1);
      expect(conclusionPreference('response 1 '.repeat(MB / 11) + 'is better.')).toBe(1);
      expect(conclusionPreference('Response 2 is better ' + 'than response 1 '.repeat(MB / 16) + '.')).toBe(2);
      expect(conclusionPreference('but, '.repeat(MB / 5) + 'Response 2 is better.')).toBe(2);
      // A contrast halves the clauses before it: 47,000 halved votes for 1 outweigh the last one for 2.
      expect(conclusionPreference('Response 1 is better, '.repeat(MB / 22) + 'but Response 2 is better.')).toBe(1);
      expect(ruleConsistency('x\n'.repeat(MB / 2) + 'I prefer Response 2.', 2)).toBe(1);
    },
    GUARD_MS,
  );

  it(
    'formatReward with many tag pairs, and a long well-formed output',
    () => {
      expect(formatReward('<think>' + '</think><answer>'.repeat(MB / 16))).toBe(0);
      expect(formatReward('<think>' + '</think><answer>'.repeat(MB / 16) + '</answer>')).toBe(0);
      expect(formatReward('<think>' + 'x'.repeat(MB) + '</think><answer>1</answer>')).toBe(1);
    },
    GUARD_MS,
  );

  it(
    'labels of the reward service',
    () => {
      expect(() => normalizeLabel('1' + spaces(MB) + 'x')).toThrow(RangeError);
      expect(normalizeLabel('<answer>' + spaces(MB) + '2' + spaces(MB) + '</answer>' + spaces(MB))).toBe(2);
    },
    GUARD_MS,
  );

  it(
    'POST /get_reward with the repro body: the reward, not a stall',
    async () => {
      const query = [
        '<think>Response 1 is better.</think><answer>1' + spaces(MB) + 'x</answer>',
        '<think>Response 2 is better.' + spaces(MB) + '</think><answer>2</answer>',
      ];
      const out = await getRewards({ query, labels: ['1', '2'] }, { judge: new RuleBasedJudge() }, { details: true });
      expect(out.details!.map((d) => [d.format, d.result, d.verdict])).toEqual([
        [1, 0, null],
        [1, 1, 2],
      ]);
      expect(out.rewards).toEqual([0.5, 2]);
    },
    GUARD_MS,
  );
});
