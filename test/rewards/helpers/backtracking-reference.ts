/* eslint-disable no-useless-escape, no-useless-assignment -- the replaced code, kept verbatim as the reference */
/**
 * The regular expressions that the linear-time scanners of lib/rewards replaced, verbatim: the reference the
 * scanners must agree with. Quadratic or worse on long runs of one character (issue 18), so the tests feed
 * them short inputs only.
 */
import { lastLines } from '../../../lib/rewards/judge';
import type { Verdict } from '../../../lib/rewards/verdict';

export function parseAnswerContentReference(content: string): Verdict | null {
  let s = content.trim();
  for (let i = 0; i < 3; i++) s = s.replace(/^["'`*\[(\s]+|["'`*\]).\s]+$/g, '');
  const m = /^(?:response\s*)?([12])$/i.exec(s);
  return m ? (Number(m[1]) as Verdict) : null;
}

const FINAL_LINE = /^[\W_]*(?:final\s+)?(?:answer|verdict|choice)\s*(?:is)?\s*[:\uff1a]?[\s*_]*(?:response\s*)?([12])[\W_]*$/i;

export function finalLineReference(line: string): Verdict | null {
  const m = FINAL_LINE.exec(line);
  return m ? (Number(m[1]) as Verdict) : null;
}

const FORMAT = /^<think>.*?<\/think><answer>.*?<\/answer>$/s;

export function formatShapeReference(text: string): boolean {
  return FORMAT.test(text);
}

export const emphasisReference = (s: string) => s.replace(/[*_`#>]+(?=\w)|(?<=\w)[*_`]+/g, '');

// ---- the rule-based judge as it was ----

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

function normalize(s: string): string {
  let t =
    ' ' +
    s
      .toLowerCase()
      .replace(/[\u2018\u2019]/g, "'")
      .replace(/[*_`#>]+(?=\w)|(?<=\w)[*_`]+/g, '') +
    ' ';
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
const CONTRAST = /^(?:but|however|yet|nevertheless|nonetheless|still|ultimately|overall)\b/;
const CONCESSIVE = /^(?:although|though|even\s+though|despite|while|whereas)\b/;

interface Mention {
  ref: Ref;
  index: number;
  object: boolean;
}

function mentions(clause: string): Mention[] {
  const out: Mention[] = [];
  for (const m of clause.matchAll(/R([12])/g)) {
    const before = clause.slice(0, m.index);
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
  let subject: Ref | null = null;
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
  const weights: number[] = [];
  const votes: Array<Ref | 'both' | null> = [];
  let carried: Ref | null = null;
  for (const part of parts) {
    if (CONTRAST.test(part)) for (let i = 0; i < weights.length; i++) weights[i] *= 0.5;
    const { vote, subject } = clauseVote(part, carried);
    carried = subject ?? carried;
    votes.push(vote);
    weights.push(CONCESSIVE.test(part) ? 0.5 : 1);
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
export function conclusionPreferenceReference(analysis: string, lines = 3): Preference {
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
