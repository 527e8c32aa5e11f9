/**
 * Accuracy arithmetic of an evaluation: majority voting, Voting@k, Any-correct@k, categories, position bias.
 *
 * Voting rule: among the first k samples, parse failures abstain; the verdict with more votes wins; a tie
 * (including 1-1) goes to the verdict of the earliest sample that has one, so Voting@k never invents a
 * verdict no sample gave. With no parsed sample the evaluation has no verdict and counts as wrong.
 */
import { shown } from '../internal/validate';
import type { Verdict } from '../rewards/verdict';

export type Order = 'original' | 'swapped';

/** One pair shown in one order, with its K sampled verdicts (null = unparsable). */
export interface Evaluation {
  key: string;
  id: string;
  category: string;
  order: Order;
  label: Verdict;
  verdicts: Array<Verdict | null>;
  difficulty?: number;
}

function checkVerdicts(verdicts: unknown, name: string): void {
  if (!Array.isArray(verdicts)) throw new TypeError(`${name} must be an array of 1, 2 or null`);
  verdicts.forEach((v, i) => {
    if (v !== 1 && v !== 2 && v !== null) throw new RangeError(`${name}[${i}] must be 1, 2 or null, got ${shown(v)}`);
  });
}

/** The evaluations and K of the @k metrics: K a positive integer (a loop runs to it), evaluations with verdicts. */
function checkEvals(evals: unknown, K: unknown): void {
  if (typeof K !== 'number' || !Number.isInteger(K) || K < 1 || K > 1_000_000) throw new RangeError(`K must be an integer from 1 to 1000000, got ${shown(K)}`);
  if (!Array.isArray(evals)) throw new TypeError('evals must be an array of evaluations');
  evals.forEach((e, i) => {
    if (e === null || typeof e !== 'object') throw new TypeError(`evals[${i}] must be an evaluation object`);
    const x = e as Partial<Evaluation>;
    if (x.label !== 1 && x.label !== 2) throw new RangeError(`evals[${i}].label must be 1 or 2, got ${shown(x.label)}`);
    checkVerdicts(x.verdicts, `evals[${i}].verdicts`);
  });
}

export function majorityVote(verdicts: ReadonlyArray<Verdict | null>): Verdict | null {
  checkVerdicts(verdicts, 'verdicts');
  let ones = 0;
  let twos = 0;
  let first: Verdict | null = null;
  for (const v of verdicts) {
    if (v === 1) ones++;
    else if (v === 2) twos++;
    if (first === null && v !== null) first = v;
  }
  if (ones > twos) return 1;
  if (twos > ones) return 2;
  return first;
}

export interface Accuracy {
  n: number;
  accuracy: number;
}

function acc(correct: number, n: number): number {
  return n === 0 ? 0 : correct / n;
}

/** Voting@k for k = 1..K (keys are k as strings, for JSON). */
export function votingAtK(evals: readonly Evaluation[], K: number): Record<string, number> {
  checkEvals(evals, K);
  const out: Record<string, number> = {};
  for (let k = 1; k <= K; k++) {
    let c = 0;
    for (const e of evals) if (majorityVote(e.verdicts.slice(0, k)) === e.label) c++;
    out[String(k)] = acc(c, evals.length);
  }
  return out;
}

/** Any-correct@k: at least one of the first k samples is right. */
export function anyCorrectAtK(evals: readonly Evaluation[], K: number): Record<string, number> {
  checkEvals(evals, K);
  const out: Record<string, number> = {};
  for (let k = 1; k <= K; k++) {
    let c = 0;
    for (const e of evals) if (e.verdicts.slice(0, k).includes(e.label)) c++;
    out[String(k)] = acc(c, evals.length);
  }
  return out;
}

function group<T>(items: readonly T[], keyOf: (t: T) => string | undefined, ok: (t: T) => boolean): Record<string, Accuracy> {
  const counts = new Map<string, { n: number; c: number }>();
  for (const it of items) {
    const k = keyOf(it);
    if (k === undefined) continue;
    const g = counts.get(k) ?? { n: 0, c: 0 };
    g.n++;
    if (ok(it)) g.c++;
    counts.set(k, g);
  }
  const out: Record<string, Accuracy> = {};
  for (const k of [...counts.keys()].sort()) out[k] = { n: counts.get(k)!.n, accuracy: acc(counts.get(k)!.c, counts.get(k)!.n) };
  return out;
}

export interface AccuracyReport {
  /** Evaluations (pair x order) scored. */
  evaluations: number;
  /** Accuracy of the final verdict (majority over all K samples; the single sample when K = 1). */
  overall: number;
  /** Mean of the category accuracies. */
  macro: number;
  categories: Record<string, Accuracy>;
  votingAtK: Record<string, number>;
  anyCorrectAtK: Record<string, number>;
  /** Share of all individual samples that are right. */
  meanSampleAccuracy: number;
  /** Accuracy split by where the preferred response was shown (1 or 2): a gap is position bias. */
  byPreferredPosition: Record<string, Accuracy>;
  /** Evaluations whose K samples all failed to parse (no final verdict). */
  noVerdict: number;
  /** Rows sharing an id all right (MM-RLHF-RewardBench's Acc+), when requested. */
  accPlus?: { ids: number; accuracy: number };
  /** With both orders evaluated. */
  orders?: Record<Order, Accuracy>;
  /**
   * Share of pairs whose final verdicts in the two orders pick the same underlying response
   * (a missing verdict in either order counts as inconsistent).
   */
  positionConsistency?: number;
  difficulties?: Record<string, Accuracy>;
}

export function accuracyReport(evals: readonly Evaluation[], K: number, options: { accPlus?: boolean } = {}): AccuracyReport {
  checkEvals(evals, K);
  const final = new Map<Evaluation, Verdict | null>();
  for (const e of evals) final.set(e, majorityVote(e.verdicts.slice(0, K)));
  const right = (e: Evaluation) => final.get(e) === e.label;
  const categories = group(evals, (e) => e.category, right);
  const catAcc = Object.values(categories).map((c) => c.accuracy);
  let samples = 0;
  let samplesRight = 0;
  for (const e of evals) {
    for (const v of e.verdicts.slice(0, K)) {
      samples++;
      if (v === e.label) samplesRight++;
    }
  }
  const report: AccuracyReport = {
    evaluations: evals.length,
    overall: acc(evals.filter(right).length, evals.length),
    macro: catAcc.length === 0 ? 0 : catAcc.reduce((a, b) => a + b, 0) / catAcc.length,
    categories,
    votingAtK: votingAtK(evals, K),
    anyCorrectAtK: anyCorrectAtK(evals, K),
    meanSampleAccuracy: acc(samplesRight, samples),
    byPreferredPosition: group(evals, (e) => String(e.label), right),
    noVerdict: evals.filter((e) => final.get(e) === null).length,
  };
  if (options.accPlus) {
    const ids = new Map<string, boolean>();
    for (const e of evals) ids.set(e.id, (ids.get(e.id) ?? true) && right(e));
    report.accPlus = { ids: ids.size, accuracy: acc([...ids.values()].filter(Boolean).length, ids.size) };
  }
  const orders = new Set(evals.map((e) => e.order));
  if (orders.has('swapped')) {
    report.orders = group(evals, (e) => e.order, right) as Record<Order, Accuracy>;
    const byKey = new Map<string, Partial<Record<Order, Evaluation>>>();
    for (const e of evals) byKey.set(e.key, { ...byKey.get(e.key), [e.order]: e });
    let pairs = 0;
    let consistent = 0;
    for (const both of byKey.values()) {
      if (!both.original || !both.swapped) continue;
      pairs++;
      const a = final.get(both.original);
      const b = final.get(both.swapped);
      // Response N in the original order is shown as 3 - N when swapped.
      if (a !== null && b !== null && a === 3 - b!) consistent++;
    }
    report.positionConsistency = acc(consistent, pairs);
  }
  if (evals.some((e) => e.difficulty !== undefined)) {
    report.difficulties = group(evals, (e) => (e.difficulty === undefined ? undefined : String(e.difficulty)), right);
  }
  return report;
}
