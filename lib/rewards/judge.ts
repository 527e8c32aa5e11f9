/**
 * Consistency judges: does the analysis's conclusion name the same response as the final answer?
 * +1 consistent, -1 inconsistent (names the other response, or approves both), 0 no usable verdict.
 */
import { isWordCode } from '../internal/text';
import { shown, stringArg } from '../internal/validate';
import type { Verdict } from './verdict';

export type Consistency = 1 | -1 | 0;

export interface ConsistencyInput {
  /** The analysis (the `<think>` content). */
  analysis: string;
  /** The final answer the output gave. */
  verdict: Verdict;
}

export interface ConsistencyJudge {
  readonly name: string;
  /** May throw (network, bad output); `computeReward` turns a throw into consistency 0 and counts it. */
  judge(input: ConsistencyInput, options?: { signal?: AbortSignal }): Promise<Consistency>;
}

/** The last `n` non-empty lines of an analysis (the paper's judge sees 3). */
export function lastLines(analysis: string, n = 3): string {
  stringArg(analysis, 'analysis');
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${shown(n)}`);
  const lines = analysis
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.slice(-n).join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Rule-based judge: a small lexical reading of the conclusion. It scans the last 3 lines sentence by sentence
// from the end and stops at the first sentence that clearly prefers one response (or explicitly approves both).

type Ref = 1 | 2;
type Preference = Ref | 'both' | null;

const NUM1 = '(?:1|one|#1|\\(1\\))';
const NUM2 = '(?:2|two|#2|\\(2\\))';
// "answer"/"option" are left out: in multiple-choice questions "answer 1" or "option a" name a choice, not a response.
const NOUN = '(?:response|output|candidate)';

const REF1 = new RegExp(`\\b${NOUN}s?\\s*(?:no\\.?|number)?\\s*${NUM1}(?![\\w.]\\w)`, 'g');
const REF2 = new RegExp(`\\b${NOUN}s?\\s*(?:no\\.?|number)?\\s*${NUM2}(?![\\w.]\\w)`, 'g');
const ORD1 = new RegExp(`\\b(?:the\\s+)?(?:first|1st|former)\\s+(?:${NOUN}|answer|one)\\b`, 'g');
const ORD2 = new RegExp(`\\b(?:the\\s+)?(?:second|2nd|latter)\\s+(?:${NOUN}|answer|one)\\b`, 'g');
// "Final answer: 2", "my verdict is 1": a bare digit only counts after these words.
const BARE_VERDICT = /\b((?:final\s+)?(?:verdict|choice|decision)|final\s+answer)\s*(?:is|:)?\s*([12])\b(?![.,]\d)/g;

/**
 * Emphasis marks next to a word removed: `s.replace(/[*_`#>]+(?=\w)|(?<=\w)[*_`]+/g, '')` (the marks before a word,
 * and `*`, `_`, `` ` `` right after one), as a scanner in linear time: the regex retried each run of marks from
 * every position in it (quadratic on a long run of `*`).
 */
/** @internal exported for its tests */
export function stripEmphasis(s: string): string {
  const isMark = (c: number) => c === 0x2a || c === 0x5f || c === 0x60 || c === 0x23 || c === 0x3e; // * _ ` # >
  const isAfterMark = (c: number) => c === 0x2a || c === 0x5f || c === 0x60; // * _ `
  const parts: string[] = [];
  let kept = 0; // s[kept, p) is kept so far
  let p = 0;
  while (p < s.length) {
    if (!isMark(s.charCodeAt(p))) {
      p++;
      continue;
    }
    let end = p; // the run of marks is [p, end)
    while (end < s.length && isMark(s.charCodeAt(end))) end++;
    const wordAfter = end < s.length && isWordCode(s.charCodeAt(end));
    let lastUnderscore = end - 1;
    while (lastUnderscore >= p && s[lastUnderscore] !== '_') lastUnderscore--;
    while (p < end) {
      // First alternative: the longest run of marks from p followed by a word character ('_' is both).
      const until = wordAfter ? end : lastUnderscore > p ? lastUnderscore : -1;
      let cut = -1;
      if (until > p) cut = until;
      else if (p > 0 && isWordCode(s.charCodeAt(p - 1)) && isAfterMark(s.charCodeAt(p))) {
        // Second: '*', '_', '`' right after a word character.
        cut = p;
        while (cut < end && isAfterMark(s.charCodeAt(cut))) cut++;
      }
      if (cut === -1) p++;
      else {
        parts.push(s.slice(kept, p));
        kept = p = cut;
      }
    }
  }
  parts.push(s.slice(kept));
  return parts.join('');
}

function normalize(s: string): string {
  let t = ' ' + stripEmphasis(s.toLowerCase().replace(/[\u2018\u2019]/g, "'")) + ' ';
  // Whitespace runs become one space first: the patterns below read one space as they read many, and with
  // short runs none of them can backtrack far (each is linear time; "response" + 1 MB of spaces was quadratic).
  t = t.replace(/\s+/g, ' ');
  t = t.replace(/n't\b/g, ' not').replace(/\bcannot\b/g, 'can not');
  // References to a response become the tokens R1/R2 (upper case: never produced by lowercasing).
  t = t.replace(REF1, ' R1 ').replace(REF2, ' R2 ').replace(ORD1, ' R1 ').replace(ORD2, ' R2 ');
  t = t.replace(BARE_VERDICT, ' verdict R$2 ');
  t = t.replace(/\b(?:the\s+)?former\b/g, ' R1 ').replace(/\b(?:the\s+)?latter\b/g, ' R2 ');
  return t.replace(/\s+/g, ' ');
}

const POS_ADJ =
  'accurate|helpful|detailed|precise|relevant|complete|comprehensive|correct|thorough|informative|faithful|' +
  'appropriate|coherent|reliable|useful|concise|aligned|grounded|consistent|specific|clear|truthful|safe';
const CUE = new RegExp(
  [
    `(?<neg>\\bless\\s+(?:${POS_ADJ})\\b|\\bworse\\b|\\bworst\\b|\\binferior\\b|\\bweaker\\b|\\bfalls?\\s+short\\b|` +
      `\\bfail(?:s|ed)?\\b|\\black(?:s|ing)?\\b|\\bincorrect(?:ly)?\\b|\\binaccura(?:te|cy|cies)\\b|\\bwrong(?:ly)?\\b|` +
      `\\berrors?\\b|\\bmistakes?\\b|\\bhallucinat\\w*|\\bmiss(?:es|ed)\\b|\\bmisidentif\\w*|\\bflawed\\b|` +
      `\\bunderperforms?\\b|\\boutperformed\\s+by\\b|\\bsurpassed\\s+by\\b)`,
    `(?<choice>\\bprefer(?:s|red)?\\s+(?=R[12])|\\bchoos(?:e|es|ing)\\b|\\bchosen?\\b|\\bselect(?:s|ed|ing)?\\b(?!\\s+by)|` +
      `\\bpick(?:s|ed)?\\b|\\bfavou?r(?:s|ed)?\\s+(?=R[12])|\\brecommend(?:s|ed)?\\b|\\bgo(?:es)?\\s+with\\b|\\bopt(?:s|ed)?\\s+for\\b|` +
      `\\bside\\s+with\\b|\\bvote\\s+for\\b)`,
    `(?<pos>\\bbetter\\b|\\bbest\\b|\\bsuperior\\b|\\bpreferable\\b|\\bpreferred\\b|\\bfavou?red\\b|\\bstronger\\b|` +
      `\\boutperforms?\\b|\\bsurpass(?:es)?\\b|\\bexcels?\\b|\\bwins?\\b|\\bwinner\\b|\\bmore\\s+(?:${POS_ADJ})\\b|` +
      `\\bhigher\\s+quality\\b|\\b(?:good|great|excellent|solid|acceptable|reasonable|valid)\\b|\\b(?:${POS_ADJ})(?:ly)?\\b|\\b(?:final\\s+)?(?:verdict|choice|decision)\\b)`,
  ].join('|'),
  'g',
);
const NEGATION = /\b(?:not|never|no|hardly|neither|nor)\b/;
const BOTH = /\b(?:both|neither|equally|tie|tied|same\s+quality|equally\s+good|comparable)\b/;
const OBJECT_BEFORE = /(?:\bthan|\bover|\bto|\bby|\bas|\bunlike|\bcompared\s+(?:to|with)|\brelative\s+to|\bversus|\bvs\.?)\s*$/;
// The longest text OBJECT_BEFORE can match in a clause (single spaces: "compared with "), plus the character its
// \b looks at.
const OBJECT_BEFORE_WINDOW = 16;
const CONTRAST = /^(?:but|however|yet|nevertheless|nonetheless|still|ultimately|overall)\b/;
const CONCESSIVE = /^(?:although|though|even\s+though|despite|while|whereas)\b/;

interface Mention {
  ref: Ref;
  index: number;
  object: boolean;
}

/** The R1/R2 tokens of a clause (from normalize: single spaces) and whether each is an object ("than R1"). */
function mentions(clause: string): Mention[] {
  const out: Mention[] = [];
  for (const m of clause.matchAll(/R([12])/g)) {
    // Only the text just before the mention can make it an object: testing a bounded window keeps the clause
    // linear time (the whole prefix for every mention was quadratic).
    const before = clause.slice(Math.max(0, m.index! - OBJECT_BEFORE_WINDOW), m.index);
    out.push({ ref: Number(m[1]) as Ref, index: m.index!, object: OBJECT_BEFORE.test(before) });
  }
  return out;
}

const other = (r: Ref): Ref => (r === 1 ? 2 : 1);

/** One clause's vote: the response it favours, 'both', or nothing; `carried` is the sentence's subject so far. */
function clauseVote(clause: string, carried: Ref | null): { vote: Ref | 'both' | null; subject: Ref | null } {
  const ms = mentions(clause);
  const firstSubject = ms.find((m) => !m.object)?.ref ?? null;
  CUE.lastIndex = 0;
  const cue = CUE.exec(clause);
  if (!cue) return { vote: null, subject: firstSubject ?? carried };
  const at = cue.index;
  const kind = cue.groups!.neg ? 'neg' : cue.groups!.choice ? 'choice' : 'pos';
  if (kind === 'choice') {
    // "I prefer R2"; with no response after the verb, the passive "R2 should be chosen".
    const target = ms.find((m) => m.index > at) ?? ms.find((m) => m.index < at && !m.object);
    if (!target) return { vote: null, subject: firstSubject ?? carried };
    const negated = NEGATION.test(clause.slice(0, at));
    return { vote: negated ? other(target.ref) : target.ref, subject: target.ref };
  }
  const before = ms.filter((m) => m.index < at && !m.object);
  let subject: Ref | null;
  let from = 0;
  if (before.length > 0) {
    subject = before[0].ref;
    from = before[0].index;
  } else {
    const after = ms.find((m) => m.index > at);
    if (after) subject = after.object ? other(after.ref) : after.ref;
    else if (BOTH.test(clause)) return { vote: 'both', subject: carried };
    else subject = carried;
  }
  if (subject === null) return { vote: null, subject: null };
  if (before.length === 0 && BOTH.test(clause.slice(0, at))) return { vote: 'both', subject };
  const negated = NEGATION.test(clause.slice(from, at));
  const favoursSubject = (kind === 'pos') !== negated;
  return { vote: favoursSubject ? subject : other(subject), subject };
}

function sentencePreference(sentence: string): Preference {
  const parts = sentence
    .split(/[;,]|\s(?=(?:but|however|yet|whereas|while|although|though|so|thus|therefore|hence|because|since|as a result)\b)/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const votes: Array<Ref | 'both' | null> = [];
  const weights: number[] = [];
  const contrast: boolean[] = [];
  let carried: Ref | null = null;
  for (const part of parts) {
    const { vote, subject } = clauseVote(part, carried);
    carried = subject ?? carried;
    votes.push(vote);
    weights.push(CONCESSIVE.test(part) ? 0.5 : 1);
    contrast.push(CONTRAST.test(part));
  }
  // A contrast ("but ...", "however ...") halves the weight of every clause before it: one backward pass
  // (halving all earlier weights at each contrast was quadratic in the number of clauses).
  for (let i = parts.length - 1, scale = 1; i >= 0; i--) {
    weights[i] *= scale;
    if (contrast[i]) scale *= 0.5;
  }
  let score = 0;
  let sawBoth = false;
  let sawVote = false;
  votes.forEach((v, i) => {
    if (v === 'both') sawBoth = true;
    else if (v !== null) {
      sawVote = true;
      score += v === 1 ? weights[i] : -weights[i];
    }
  });
  if (score > 0) return 1;
  if (score < 0) return 2;
  if (sawBoth || sawVote) return 'both';
  return null;
}

/** The response the conclusion of `analysis` prefers: 1, 2, 'both' (approves both / undecidable), or null. */
export function conclusionPreference(analysis: string, lines = 3): Preference {
  const tail = normalize(lastLines(analysis, lines).replace(/\n/g, ' \n '));
  const sentences = tail
    .split(/(?<=[.!?])\s+|\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (let i = sentences.length - 1; i >= 0; i--) {
    const p = sentencePreference(sentences[i]);
    if (p !== null) return p;
  }
  return null;
}

/** The rule-based consistency score of an analysis and a verdict. */
export function ruleConsistency(analysis: string, verdict: Verdict): Consistency {
  const p = conclusionPreference(analysis);
  if (p === null) return 0;
  if (p === 'both') return -1;
  return p === verdict ? 1 : -1;
}

/** No network, no model: fast and deterministic; the default judge of the trainer and the reward service. */
export class RuleBasedJudge implements ConsistencyJudge {
  readonly name = 'rule-based';

  async judge(input: ConsistencyInput): Promise<Consistency> {
    return ruleConsistency(input.analysis, input.verdict);
  }
}
