/**
 * Candidate responses are sequences of sentences, each one checkable claim
 * about the scene, in a small fixed grammar. The first sentence answers the
 * question; the rest are supporting details. `checkResponse` re-reads a
 * response and tells, from the scene alone, whether its answer and every
 * detail are true: the tests use it to prove the faithful response right and
 * the other one wrong for every generated sample.
 */
import {
  COLOURS,
  Colour,
  Direction,
  SHAPE_KINDS,
  Filter,
  Scene,
  ShapeKind,
  cellName,
  countMatching,
  describe,
  isInDirection,
  matches,
  objectAt,
  parseCellName,
} from './scene';
import {
  Answer,
  DIR_SRC,
  NOUN_SRC,
  Question,
  THING_SRC,
  Thing,
  answerQuestion,
  countPhrase,
  dirPhrase,
  isEmptyFilter,
  noun,
  parseDirPhrase,
  parseNoun,
  sameFilter,
  sameThing,
} from './questions';

export interface CountItem {
  filter: Filter;
  n: number;
}

export type Claim =
  /** One or two counts: "There are 3 circles." / "There are 3 circles and 1 square." */
  | { t: 'count'; items: CountItem[] }
  | { t: 'cellColour'; row: number; col: number; colour: Colour }
  | { t: 'cellKind'; row: number; col: number; kind: ShapeKind }
  | { t: 'cellHas'; row: number; col: number; thing: Thing }
  | { t: 'cellEmpty'; row: number; col: number }
  /** About the scene's only shape (level 0): "The shape is red." / "The shape is a circle." */
  | { t: 'singleColour'; colour: Colour }
  | { t: 'singleKind'; kind: ShapeKind }
  /** `thing`: a colour and a kind, or one of them alone ("Yes, there is a red shape."). */
  | { t: 'exists'; thing: Filter; value: boolean }
  | { t: 'more'; a: Filter; b: Filter; value: boolean }
  | { t: 'relation'; thing: Thing; dir: Direction; anchor: Thing };

export function claimText(grid: number, c: Claim): string {
  switch (c.t) {
    case 'count': {
      const verb = c.items[0].n === 1 ? 'is' : 'are';
      return `There ${verb} ${c.items.map((i) => countPhrase(i.filter, i.n)).join(' and ')}.`;
    }
    case 'cellColour':
      return `The shape in the ${cellName(grid, c.row, c.col)} cell is ${c.colour}.`;
    case 'cellKind':
      return `The shape in the ${cellName(grid, c.row, c.col)} cell is a ${c.kind}.`;
    case 'cellHas':
      return `The ${cellName(grid, c.row, c.col)} cell has a ${describe(c.thing)}.`;
    case 'cellEmpty':
      return `The ${cellName(grid, c.row, c.col)} cell is empty.`;
    case 'singleColour':
      return `The shape is ${c.colour}.`;
    case 'singleKind':
      return `The shape is a ${c.kind}.`;
    case 'exists':
      return c.value ? `Yes, there is a ${noun(c.thing, false)}.` : `No, there is no ${noun(c.thing, false)}.`;
    case 'more':
      return `${c.value ? 'Yes, there are' : 'No, there are not'} more ${noun(c.a, true)} than ${noun(c.b, true)}.`;
    case 'relation':
      return `There is a ${describe(c.thing)} ${dirPhrase(c.dir)} the ${describe(c.anchor)}.`;
  }
}

export function responseText(grid: number, claims: readonly Claim[]): string {
  return claims.map((c) => claimText(grid, c)).join(' ');
}

const COUNT_ITEM_SRC = `(no|\\d+) ${NOUN_SRC}`;
const C_COUNT = new RegExp(`^There (?:is|are) ${COUNT_ITEM_SRC}(?: and ${COUNT_ITEM_SRC})?\\.$`);
const C_COLOUR = /^The shape in the (.+) cell is (\w+)\.$/;
const C_KIND = /^The shape in the (.+) cell is an? (\w+)\.$/;
const C_HAS = new RegExp(`^The (.+) cell has an? ${THING_SRC}\\.$`);
const C_EMPTY = /^The (.+) cell is empty\.$/;
const C_SINGLE_COLOUR = /^The shape is (\w+)\.$/;
const C_SINGLE_KIND = /^The shape is an? (\w+)\.$/;
const C_EXISTS = new RegExp(`^(?:Yes, there is an?|No, there is no) ${NOUN_SRC}\\.$`);
const C_MORE = new RegExp(`^(Yes, there are|No, there are not) more ${NOUN_SRC} than ${NOUN_SRC}\\.$`);
const C_REL = new RegExp(`^There is an? ${THING_SRC} (${DIR_SRC}) the ${THING_SRC}\\.$`);

function countItem(nText: string, colour: string | undefined, head: string): CountItem {
  const n = nText === 'no' ? 0 : Number(nText);
  const { filter, plural } = parseNoun(colour, head);
  if (plural !== (n !== 1)) throw new RangeError(`count and noun disagree in number: ${nText} ${head}`);
  return { filter, n };
}

/** Parses one sentence (with its final period). Throws a RangeError for text outside the grammar. */
export function parseClaim(grid: number, sentence: string): Claim {
  const cell = (text: string) => {
    const c = parseCellName(grid, text);
    if (!c) throw new RangeError(`unknown cell name ${JSON.stringify(text)} for a ${grid}x${grid} grid`);
    return c;
  };
  let m: RegExpExecArray | null;
  if ((m = C_COUNT.exec(sentence))) {
    const items = [countItem(m[1], m[2], m[3])];
    if (m[4] !== undefined) items.push(countItem(m[4], m[5], m[6]));
    return { t: 'count', items };
  }
  if ((m = C_EMPTY.exec(sentence))) return { t: 'cellEmpty', ...cell(m[1]) };
  if ((m = C_KIND.exec(sentence)) && isKind(m[2])) return { t: 'cellKind', ...cell(m[1]), kind: m[2] };
  if ((m = C_COLOUR.exec(sentence)) && isColour(m[2])) return { t: 'cellColour', ...cell(m[1]), colour: m[2] };
  if ((m = C_HAS.exec(sentence))) return { t: 'cellHas', ...cell(m[1]), thing: thing(m[2], m[3]) };
  if ((m = C_SINGLE_KIND.exec(sentence)) && isKind(m[1])) return { t: 'singleKind', kind: m[1] };
  if ((m = C_SINGLE_COLOUR.exec(sentence)) && isColour(m[1])) return { t: 'singleColour', colour: m[1] };
  if ((m = C_EXISTS.exec(sentence))) {
    const { filter, plural } = parseNoun(m[1], m[2]);
    if (!plural && !isEmptyFilter(filter)) return { t: 'exists', thing: filter, value: sentence.startsWith('Yes') };
  }
  if ((m = C_MORE.exec(sentence))) {
    const a = parseNoun(m[2], m[3]);
    const b = parseNoun(m[4], m[5]);
    if (a.plural && b.plural) return { t: 'more', a: a.filter, b: b.filter, value: m[1].startsWith('Yes') };
  }
  if ((m = C_REL.exec(sentence))) {
    return { t: 'relation', thing: thing(m[1], m[2]), dir: parseDirPhrase(m[3]), anchor: thing(m[4], m[5]) };
  }
  throw new RangeError(`sentence is not one the synthetic grammar produces: ${JSON.stringify(sentence)}`);
}

function isKind(s: string): s is ShapeKind {
  return (SHAPE_KINDS as readonly string[]).includes(s);
}
function isColour(s: string): s is Colour {
  return (COLOURS as readonly string[]).includes(s);
}
function thing(colour: string, kind: string): Thing {
  return { colour: colour as Colour, kind: kind as ShapeKind };
}

/** Sentences of a response: each ends with a period and they are separated by single spaces. */
export function splitSentences(text: string): string[] {
  return text.split(/(?<=\.) (?=[A-Z])/);
}

export function parseResponse(grid: number, text: string): Claim[] {
  return splitSentences(text).map((s) => parseClaim(grid, s));
}

/** Is the claim true of the scene? */
export function claimHolds(scene: Scene, c: Claim): boolean {
  switch (c.t) {
    case 'count':
      return c.items.every((i) => countMatching(scene, i.filter) === i.n);
    case 'cellColour':
      return objectAt(scene, c.row, c.col)?.colour === c.colour;
    case 'cellKind':
      return objectAt(scene, c.row, c.col)?.kind === c.kind;
    case 'cellHas': {
      const o = objectAt(scene, c.row, c.col);
      return o !== undefined && sameThing(o, c.thing);
    }
    case 'cellEmpty':
      return objectAt(scene, c.row, c.col) === undefined;
    case 'singleColour':
      return scene.objects.length === 1 && scene.objects[0].colour === c.colour;
    case 'singleKind':
      return scene.objects.length === 1 && scene.objects[0].kind === c.kind;
    case 'exists':
      return countMatching(scene, c.thing) > 0 === c.value;
    case 'more':
      return countMatching(scene, c.a) > countMatching(scene, c.b) === c.value;
    case 'relation':
      // Existential reading: some such object on that side of some such anchor.
      return scene.objects.some((a) => matches(a, c.anchor) && scene.objects.some((o) => o !== a && matches(o, c.thing) && isInDirection(o, a, c.dir)));
  }
}

/** The answer a claim gives to the question, or null when the claim does not answer it. */
export function claimedAnswer(q: Question, c: Claim): Answer | null {
  switch (q.type) {
    case 'count':
      return c.t === 'count' && c.items.length === 1 && sameFilter(c.items[0].filter, q.filter) ? String(c.items[0].n) : null;
    case 'attribute':
      if ((c.t === 'cellColour' || c.t === 'cellKind' || c.t === 'cellEmpty') && c.row === q.row && c.col === q.col) {
        if (c.t === 'cellEmpty') return 'none';
        if (q.attr === 'colour' && c.t === 'cellColour') return c.colour;
        if (q.attr === 'kind' && c.t === 'cellKind') return c.kind;
      }
      return null;
    case 'single':
      if (q.attr === 'colour' && c.t === 'singleColour') return c.colour;
      if (q.attr === 'kind' && c.t === 'singleKind') return c.kind;
      return null;
    case 'existence':
      return c.t === 'exists' && sameFilter(c.thing, q.thing) ? (c.value ? 'yes' : 'no') : null;
    case 'comparison':
      return c.t === 'more' && sameFilter(c.a, q.a) && sameFilter(c.b, q.b) ? (c.value ? 'yes' : 'no') : null;
    case 'relation':
      return c.t === 'relation' && c.dir === q.dir && sameThing(c.anchor, q.anchor) ? describe(c.thing) : null;
  }
}

export interface ResponseCheck {
  /** What the first sentence answers (null: it does not answer the question). */
  answer: Answer | null;
  /** The true answer, recomputed from the scene. */
  truth: Answer;
  answerCorrect: boolean;
  /** Each sentence and whether it is true of the scene. */
  claims: { text: string; claim: Claim; holds: boolean }[];
  /** Answer right and every sentence true. */
  correct: boolean;
}

export function checkResponse(scene: Scene, q: Question, text: string): ResponseCheck {
  const sentences = splitSentences(text);
  const claims = sentences.map((s) => {
    const claim = parseClaim(scene.grid, s);
    return { text: s, claim, holds: claimHolds(scene, claim) };
  });
  const answer = claimedAnswer(q, claims[0].claim);
  const truth = answerQuestion(scene, q);
  const answerCorrect = answer === truth;
  return { answer, truth, answerCorrect, claims, correct: answerCorrect && claims.every((c) => c.holds) };
}
