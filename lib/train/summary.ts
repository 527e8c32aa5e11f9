/**
 * What a run found, in a few honest lines: accuracies before and after stage
 * 2, whether the change is larger than the noise of a test set this size
 * (paired exact sign test over the samples whose verdict changed), Voting@K,
 * response length, time per phase.
 */
import { type AccuracySummary, type GreedyOutput, type VisionSummary, type VotingSummary, samplingText } from './evaluate';

export interface PairedChange {
  n: number;
  before: number;
  after: number;
  /** Right after stage 2 and wrong before, and the reverse. */
  fixed: number;
  broken: number;
  /** Two-sided exact sign test on fixed vs broken. */
  pValue: number;
  verdict: 'helped' | 'hurt' | 'no clear change';
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** Two-sided exact binomial (p = 1/2) test of `a` successes out of `a + b`. */
export function signTestP(a: number, b: number): number {
  for (const [v, n] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1e9)
      throw new RangeError(`${n} must be a count (an integer from 0 to 1e9), got ${String(v)}`);
  }
  const n = a + b;
  if (n === 0) return 1;
  const k = Math.min(a, b);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

export function pairedChange(before: readonly GreedyOutput[], after: readonly GreedyOutput[], alpha = 0.05): PairedChange {
  const a = new Map(after.map((o) => [o.index, o]));
  let fixed = 0;
  let broken = 0;
  let n = 0;
  let right0 = 0;
  let right1 = 0;
  for (const o of before) {
    const p = a.get(o.index);
    if (!p) continue;
    n++;
    if (o.correct) right0++;
    if (p.correct) right1++;
    if (p.correct && !o.correct) fixed++;
    if (!p.correct && o.correct) broken++;
  }
  const pValue = signTestP(fixed, broken);
  const verdict = pValue < alpha ? (fixed > broken ? 'helped' : 'hurt') : 'no clear change';
  return { n, before: n ? right0 / n : 0, after: n ? right1 / n : 0, fixed, broken, pValue, verdict };
}

/** A share as a percentage with one decimal: 0.1234 -> "12.3%". */
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} points`;

export interface SummaryInput {
  stage1: AccuracySummary;
  /** Caption test of the stage-1 model (null when it did not run). */
  vision?: VisionSummary | null;
  stage2: AccuracySummary | null;
  overall: PairedChange | null;
  hard: PairedChange | null;
  /** The test pairs where data.teacherSlip's teacher misreads (null without one). */
  blindSpots?: PairedChange | null;
  voting: VotingSummary | null;
  hardLevels: readonly number[];
  rlSteps: number;
  seconds: Record<string, number>;
  rlPool: { size: number; fallback: boolean } | null;
  skippedSteps: number;
}

export function summaryLines(s: SummaryInput): string[] {
  const lines: string[] = [];
  const s1 = s.stage1;
  lines.push(
    `Test accuracy after stage 1 (SFT): ${pct(s1.accuracy)} of ${s1.n}; hard subset (levels ${s.hardLevels.join(',')}): ${pct(s1.hard.accuracy)} of ${s1.hard.n}.`,
  );
  if (s.vision) {
    lines.push(
      `Caption test after stage 1: ${pct(s.vision.cells)} of the ${s.vision.n} test images' grid cells read right (${pct(s.vision.exact)} of the images entirely); ` +
        `one cell named out of order read right in ${pct(s.vision.lookup)}` +
        (s.vision.cells < 0.7 ? ': the model barely reads the images, so its verdicts cannot rest on them.' : '.'),
    );
  }
  if (s.stage2 && s.rlSteps > 0) {
    const s2 = s.stage2;
    lines.push(`Test accuracy after stage 2 (RL, ${s.rlSteps} steps): ${pct(s2.accuracy)}; hard subset: ${pct(s2.hard.accuracy)}.`);
    for (const [name, c, counted] of [
      ['overall', s.overall, false],
      ['hard subset', s.hard, false],
      ['where the teacher misreads', s.blindSpots ?? null, true],
    ] as const) {
      if (!c || c.n === 0) continue;
      const where = counted ? `${name} (${c.n} test pairs, ${pct(c.before)} -> ${pct(c.after)})` : name;
      const what =
        c.verdict === 'helped'
          ? 'stage 2 helped'
          : c.verdict === 'hurt'
            ? 'stage 2 made it worse'
            : 'stage 2 made no change larger than the noise of this test set';
      lines.push(`  ${where}: ${pts(c.after - c.before)} (${c.fixed} samples fixed, ${c.broken} broken, sign test p = ${c.pValue.toFixed(3)}): ${what}.`);
    }
    lines.push(
      `Mean response length: ${s1.meanLength.toFixed(0)} tokens after stage 1, ${s2.meanLength.toFixed(0)} after stage 2 (${pts((s2.meanLength - s1.meanLength) / Math.max(1, s1.meanLength)).replace('points', '%')}).`,
    );
    lines.push(`Output format kept by ${pct(s2.formatRate)} of greedy test outputs (stage 1: ${pct(s1.formatRate)}).`);
  } else {
    lines.push('Stage 2 did not run (rl.steps = 0): the final model is the stage-1 model.');
  }
  for (const [name, a] of [
    ['stage 1', s1],
    ['stage 2', s.rlSteps > 0 ? s.stage2 : null],
  ] as const) {
    if (!a || a.n - a.noVerdict < 10) continue;
    const one = a.answersOne;
    if (Math.max(one, 1 - one) >= 0.8) {
      const pos = one >= 0.5 ? 1 : 2;
      lines.push(
        `Position bias after ${name}: the model names Response ${pos} in ${pct(Math.max(one, 1 - one))} of its test verdicts ` +
          `(accuracy ${pct(a.byLabel['1']?.accuracy ?? 0)} when Response 1 is better, ${pct(a.byLabel['2']?.accuracy ?? 0)} when Response 2 is); ` +
          'with balanced labels its accuracy is close to that of a constant answer, i.e. it has not learnt to judge the pairs.',
      );
    }
  }
  if (s.rlPool?.fallback) lines.push('Note: no training sample was hard for the stage-1 model; stage 2 sampled from all training samples instead.');
  if (s.skippedSteps > 0) lines.push(`Note: ${s.skippedSteps} update(s) had a non-finite loss or gradient and were skipped (see metrics.jsonl).`);
  if (s.voting) {
    const v = s.voting;
    const ks = [1, 5, v.k].filter((k, i, a) => k <= v.k && a.indexOf(k) === i);
    lines.push(
      `Voting@K (final model, ${v.sampling ? samplingText(v.sampling) : 'temperature'} sampling, ${v.n} test samples): ${ks.map((k) => `@${k} ${pct(v.votingAtK[String(k)])}`).join(', ')}; any-correct@${v.k} ${pct(v.anyCorrectAtK[String(v.k)])}` +
        (v.greedy === null ? '' : `; greedy on the same samples ${pct(v.greedy)}`) +
        `; ${pct(v.unreadable)} of the samples had no readable verdict (no vote).`,
    );
  }
  const t = s.seconds;
  const order = ['data', 'sft', 'difficulty', 'rl', 'final'];
  lines.push(
    'Wall time: ' +
      order
        .filter((k) => t[k] !== undefined)
        .map((k) => `${k} ${t[k].toFixed(0)}s`)
        .join(', ') +
      `; total ${Object.values(t)
        .reduce((a, b) => a + b, 0)
        .toFixed(0)}s.`,
  );
  return lines;
}
