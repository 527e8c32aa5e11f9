/**
 * Reading a generative reward model's output: `<think>analysis</think><answer>1|2</answer>`.
 *
 * `parseVerdict` order (documented, and reported by `source`):
 *   1. `answer`: exactly one `<answer>` and one `</answer>`; the content, trimmed, and with wrapping quotes, `*`,
 *      backticks, brackets or a final period removed, must be `1`, `2`, `Response 1` or `Response 2`
 *      (any case). Any other content (e.g. `3`, `1 or 2`) is the failure `invalid-answer`: an explicit answer
 *      is never reinterpreted.
 *   2. `fallback` (only when no complete `<answer>...</answer>` block exists, and `fallback` is not disabled):
 *      a. an unclosed `<answer>` at the very end whose remainder is `1` or `2` (output cut by max tokens);
 *      b. the last non-empty line after the analysis reads `Answer: 2`, `Final answer: Response 1`, ...
 *   3. otherwise an explicit failure (`verdict: null`): `empty`, `no-answer`, `multiple-answers`,
 *      `invalid-answer`. Callers count failures as wrong; nothing is guessed.
 */
import { asciiWordAt, isAlnumCode, isSpaceCode, skipSpaces } from '../internal/text';
import { optionalBoolean, optionsObject, stringArg } from '../internal/validate';

export type Verdict = 1 | 2;

export type VerdictFailure = 'empty' | 'no-answer' | 'multiple-answers' | 'invalid-answer';

export type ParsedVerdict =
  { ok: true; verdict: Verdict; source: 'answer' | 'fallback' } | { ok: false; verdict: null; failure: VerdictFailure; detail: string };

export interface ParseVerdictOptions {
  /** Try the fallback rules when there is no `<answer>` block (default true). */
  fallback?: boolean;
}

export function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Wrapping a model may put around the digit ("**2**", "`1`", "[2]", "2."): stripped from the left / right. */
const LEFT_DECORATION = new Set(['"', "'", '`', '*', '[', '(']);
const RIGHT_DECORATION = new Set(['"', "'", '`', '*', ']', ')', '.']);

/**
 * `s` without its leading run of left decorations and trailing run of right decorations (whitespace is both).
 * A scanner, not a regex: `/^[...\s]+|[...\s]+$/g` retries the right run at every position, quadratic on long
 * runs of spaces inside an answer (a request could stall the reward service).
 */
function stripDecorations(s: string): string {
  let a = 0;
  while (a < s.length && (LEFT_DECORATION.has(s[a]) || isSpaceCode(s.charCodeAt(a)))) a++;
  let b = s.length;
  while (b > a && (RIGHT_DECORATION.has(s[b - 1]) || isSpaceCode(s.charCodeAt(b - 1)))) b--;
  return s.slice(a, b);
}

/** `1`/`2` from an answer's content, or null. */
export function parseAnswerContent(content: string): Verdict | null {
  const s = stripDecorations(stringArg(content, 'content'));
  const m = /^(?:response\s*)?([12])$/i.exec(s);
  return m ? (Number(m[1]) as Verdict) : null;
}

function fail(failure: VerdictFailure, detail: string): ParsedVerdict {
  return { ok: false, verdict: null, failure, detail };
}

/**
 * The verdict of a last line such as `Answer: 2`, `**Final answer is Response 1.**`, `verdict - 2`, or null: the
 * line must read, ignoring case, [non-alphanumerics] (final ws+)? answer|verdict|choice ws* (is)? ws* [:：]?
 * [ws * _]* (response ws*)? 1|2 [non-alphanumerics]. A scanner in linear time (the equivalent regex backtracked
 * cubically over runs of spaces: "answer" + 4,000 spaces + "x" took 27 s).
 */
export function finalLineVerdict(line: string): Verdict | null {
  stringArg(line, 'line');
  // Leading and trailing non-alphanumerics are free, so the digit is the last alphanumeric and the keyword
  // starts at the first one.
  let i = 0;
  while (i < line.length && !isAlnumCode(line.charCodeAt(i))) i++;
  let j = line.length - 1;
  while (j > i && !isAlnumCode(line.charCodeAt(j))) j--;
  const digit = line[j];
  if (j <= i || (digit !== '1' && digit !== '2')) return null;
  let p = i;
  if (asciiWordAt(line, p, 'final')) {
    const q = skipSpaces(line, p + 5, j);
    if (q === p + 5) return null;
    p = q;
  }
  const keyword = ['answer', 'verdict', 'choice'].find((w) => asciiWordAt(line, p, w));
  if (keyword === undefined) return null;
  p = skipSpaces(line, p + keyword.length, j);
  if (asciiWordAt(line, p, 'is')) p = skipSpaces(line, p + 2, j);
  if (line[p] === ':' || line[p] === '\uff1a') p++;
  while (p < j && (line[p] === '*' || line[p] === '_' || isSpaceCode(line.charCodeAt(p)))) p++;
  if (asciiWordAt(line, p, 'response')) p = skipSpaces(line, p + 8, j);
  return p === j ? (Number(digit) as Verdict) : null;
}

export function parseVerdict(text: string, options: ParseVerdictOptions = {}): ParsedVerdict {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const useFallback = optionalBoolean(optionsObject(options).fallback, 'options.fallback', true);
  if (text.trim() === '') return fail('empty', 'the output is empty');
  const opens = countOccurrences(text, '<answer>');
  const closes = countOccurrences(text, '</answer>');
  if (opens > 1 || closes > 1) return fail('multiple-answers', `${opens} <answer> and ${closes} </answer> tags`);
  if (opens === 1 && closes === 1) {
    const start = text.indexOf('<answer>') + '<answer>'.length;
    const end = text.indexOf('</answer>');
    if (end < start) return fail('invalid-answer', '</answer> comes before <answer>');
    const content = text.slice(start, end);
    const v = parseAnswerContent(content);
    if (v === null) return fail('invalid-answer', `answer content ${JSON.stringify(content.slice(0, 40))} is not 1 or 2`);
    return { ok: true, verdict: v, source: 'answer' };
  }
  if (!useFallback) return fail('no-answer', 'no complete <answer>...</answer> block');
  if (opens === 1) {
    const m = /<answer>\s*(?:response\s*)?([12])\s*$/i.exec(text);
    if (m) return { ok: true, verdict: Number(m[1]) as Verdict, source: 'fallback' };
  }
  if (closes === 0) {
    const afterThink = text.includes('</think>') ? text.slice(text.lastIndexOf('</think>') + 8) : text;
    const lines = afterThink
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const last = lines[lines.length - 1];
    const v = last === undefined ? null : finalLineVerdict(last);
    if (v !== null) return { ok: true, verdict: v, source: 'fallback' };
  }
  return fail('no-answer', 'no <answer> block and no fallback rule matched');
}

/**
 * The analysis part of an output: the `<think>` content when present, else the text before `<answer>`
 * (tags removed). Used by the consistency judges.
 */
export function extractAnalysis(text: string): string {
  stringArg(text, 'text');
  const open = text.indexOf('<think>');
  const close = text.lastIndexOf('</think>');
  if (close !== -1) {
    const from = open !== -1 && open < close ? open + '<think>'.length : 0;
    return text.slice(from, close).trim();
  }
  const answer = text.indexOf('<answer>');
  const head = answer === -1 ? text : text.slice(0, answer);
  return head.replace(/<\/?think>/g, '').trim();
}
