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
export type Verdict = 1 | 2;

export type VerdictFailure = 'empty' | 'no-answer' | 'multiple-answers' | 'invalid-answer';

export type ParsedVerdict =
  | { ok: true; verdict: Verdict; source: 'answer' | 'fallback' }
  | { ok: false; verdict: null; failure: VerdictFailure; detail: string };

export interface ParseVerdictOptions {
  /** Try the fallback rules when there is no `<answer>` block (default true). */
  fallback?: boolean;
}

export function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** `1`/`2` from an answer's content, or null. */
export function parseAnswerContent(content: string): Verdict | null {
  let s = content.trim();
  // Strip decorations a model may wrap around the digit ("**2**", "`1`", "[2]", "2.").
  for (let i = 0; i < 3; i++) s = s.replace(/^["'`*[(\s]+|["'`*\]).\s]+$/g, '');
  const m = /^(?:response\s*)?([12])$/i.exec(s);
  return m ? (Number(m[1]) as Verdict) : null;
}

function fail(failure: VerdictFailure, detail: string): ParsedVerdict {
  return { ok: false, verdict: null, failure, detail };
}

const FINAL_LINE = /^[\W_]*(?:final\s+)?(?:answer|verdict|choice)\s*(?:is)?\s*[:：]?[\s*_]*(?:response\s*)?([12])[\W_]*$/i;

export function parseVerdict(text: string, options: ParseVerdictOptions = {}): ParsedVerdict {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const useFallback = options.fallback ?? true;
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
    const lines = afterThink.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    const last = lines[lines.length - 1];
    const m = last === undefined ? null : FINAL_LINE.exec(last);
    if (m) return { ok: true, verdict: Number(m[1]) as Verdict, source: 'fallback' };
  }
  return fail('no-answer', 'no <answer> block and no fallback rule matched');
}

/**
 * The analysis part of an output: the `<think>` content when present, else the text before `<answer>`
 * (tags removed). Used by the consistency judges.
 */
export function extractAnalysis(text: string): string {
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
