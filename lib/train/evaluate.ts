/**
 * Evaluation in the training loop: greedy test accuracy (overall, hard subset,
 * per level), Voting@K, and the paper's sample difficulty (attempts needed).
 *
 * A verdict is read strictly (exactly one <answer> block, lib/rewards
 * parseVerdict without fallback), the same rule as the result reward: an
 * output the reward would not credit is not counted right here either.
 */
import { Rng, hashSeed } from '../data/rng';
import { sceneCaption } from '../data/scene';
import { anyCorrectAtK, votingAtK, type Evaluation } from '../eval/metrics';
import type { PolicyModel } from '../model/policy-model';
import { formatReward } from '../rewards/format';
import { parseVerdict, type Verdict } from '../rewards/verdict';
import { difficultyFromVerdicts } from './curriculum';
import { ImageCache, TrainRow, captionPrompt, levelOf, lookupExample } from './dataset';

export function verdictOf(text: string): Verdict | null {
  const p = parseVerdict(text, { fallback: false });
  return p.ok ? p.verdict : null;
}

export interface GreedyOutput {
  index: number;
  id: string;
  label: 1 | 2;
  level: number | null;
  category: string | null;
  verdict: Verdict | null;
  correct: boolean;
  format: 0 | 1;
  length: number;
  text: string;
}

export interface AccuracySummary {
  n: number;
  accuracy: number;
  /** Test rows whose generator level is in eval.hardLevels. */
  hard: { n: number; accuracy: number };
  byLevel: Record<string, { n: number; accuracy: number }>;
  byCategory: Record<string, { n: number; accuracy: number }>;
  formatRate: number;
  noVerdict: number;
  /** Share of the parsed verdicts that name Response 1 (labels are balanced 1:1; far from 0.5 = position bias). */
  answersOne: number;
  /** Accuracy by the position of the better response. */
  byLabel: Record<string, { n: number; accuracy: number }>;
  /** Mean response length in tokens (eos included). */
  meanLength: number;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function rate(xs: readonly boolean[]): number {
  return xs.length === 0 ? 0 : xs.filter(Boolean).length / xs.length;
}

/** The fields of an accuracy summary a metrics.jsonl line carries (`eval`). */
export function evalFields(tag: string, s: AccuracySummary): Record<string, unknown> {
  return {
    tag,
    accuracy: s.accuracy,
    hardAccuracy: s.hard.accuracy,
    n: s.n,
    hardN: s.hard.n,
    byLevel: s.byLevel,
    formatRate: s.formatRate,
    answersOne: s.answersOne,
    meanLength: s.meanLength,
    noVerdict: s.noVerdict,
  };
}

export function summarizeGreedy(outputs: readonly GreedyOutput[], hardLevels: readonly number[]): AccuracySummary {
  const hard = outputs.filter((o) => o.level !== null && hardLevels.includes(o.level));
  const byLevel: Record<string, { n: number; accuracy: number }> = {};
  for (const lv of [...new Set(outputs.map((o) => o.level).filter((l): l is number => l !== null))].sort()) {
    const g = outputs.filter((o) => o.level === lv);
    byLevel[String(lv)] = { n: g.length, accuracy: rate(g.map((o) => o.correct)) };
  }
  const byCategory: Record<string, { n: number; accuracy: number }> = {};
  for (const cat of [...new Set(outputs.map((o) => o.category).filter((x): x is string => x !== null))].sort()) {
    const g = outputs.filter((o) => o.category === cat);
    byCategory[cat] = { n: g.length, accuracy: rate(g.map((o) => o.correct)) };
  }
  return {
    n: outputs.length,
    accuracy: rate(outputs.map((o) => o.correct)),
    hard: { n: hard.length, accuracy: rate(hard.map((o) => o.correct)) },
    byLevel,
    byCategory,
    formatRate: rate(outputs.map((o) => o.format === 1)),
    noVerdict: outputs.filter((o) => o.verdict === null).length,
    answersOne: rate(outputs.filter((o) => o.verdict !== null).map((o) => o.verdict === 1)),
    byLabel: Object.fromEntries(
      ([1, 2] as const).map((l) => {
        const g = outputs.filter((o) => o.label === l);
        return [String(l), { n: g.length, accuracy: rate(g.map((o) => o.correct)) }];
      }),
    ),
    meanLength: outputs.length === 0 ? 0 : outputs.reduce((a, o) => a + o.length, 0) / outputs.length,
  };
}

/** Greedy (temperature 0) outputs for every row, batchSize at a time. */
export async function greedyOutputs(
  model: PolicyModel,
  rows: readonly TrainRow[],
  images: ImageCache,
  opts: { batchSize: number; maxNewTokens: number; onProgress?: (done: number) => void },
): Promise<GreedyOutput[]> {
  const out: GreedyOutput[] = [];
  for (const batch of chunks(rows, opts.batchSize)) {
    const gen = await model.generate(
      batch.map((r) => images.input(r)),
      { temperature: 0, maxNewTokens: opts.maxNewTokens, seed: 0 },
    );
    batch.forEach((r, i) => {
      const s = gen[i][0];
      const verdict = verdictOf(s.text);
      out.push({
        index: r.index,
        id: r.id,
        label: r.label,
        level: levelOf(r),
        category: r.category ?? null,
        verdict,
        correct: verdict === r.label,
        format: formatReward(s.text),
        length: s.tokens.length,
        text: s.text,
      });
    });
    opts.onProgress?.(out.length);
  }
  return out;
}

// ---- caption test ----------------------------------------------------------------------------------

export interface VisionSummary {
  /** Test images captioned (rows with a scene). */
  n: number;
  /** Share of grid cells whose caption line is exactly right ("top-left: red circle" / "center: empty"). */
  cells: number;
  /** Share of images captioned exactly. */
  exact: number;
  /**
   * Share of single-cell lookups answered exactly: one cell per test image, drawn at random and asked after the
   * row's task prompt ("Describe the center cell."). A model that reads cells only in caption order scores
   * well on `cells` and poorly here.
   */
  lookup: number;
}

/**
 * Can the model read the images where the analysis reads them? Greedy captions of the test images, asked after
 * each row's task prompt (as the captions mixed into stage 1), against the drawn scenes, cell by cell. A model
 * that ignores the image scores about the share of empty cells.
 */
export async function captionTest(model: PolicyModel, rows: readonly TrainRow[], images: ImageCache, opts: { batchSize: number }): Promise<VisionSummary> {
  const withScene = rows.filter((r) => r.scene !== undefined);
  let cells = 0;
  let right = 0;
  let exact = 0;
  for (const batch of chunks(withScene, opts.batchSize)) {
    const want = batch.map((r) => sceneCaption(r.scene!));
    const maxNewTokens = Math.max(...want.map((w) => Buffer.byteLength(w))) + 8;
    const gen = await model.generate(
      batch.map((r) => ({ image: images.get(r), prompt: captionPrompt(r, true) })),
      { temperature: 0, maxNewTokens, seed: 0 },
    );
    batch.forEach((_, i) => {
      const got = gen[i][0].text.split('\n');
      const lines = want[i].split('\n');
      let ok = 0;
      lines.forEach((l, k) => (ok += got[k] === l ? 1 : 0));
      cells += lines.length;
      right += ok;
      exact += ok === lines.length ? 1 : 0;
    });
  }
  let lookedUp = 0;
  for (const batch of chunks(
    withScene.map((row, i) => ({ row, i })),
    opts.batchSize,
  )) {
    const asks = batch.map(({ row, i }) => lookupExample(images, row, Rng.derive(0, 'lookup-test', i), true, 1));
    const maxNewTokens = Math.max(...asks.map((a) => Buffer.byteLength(a.response))) + 8;
    const gen = await model.generate(
      asks.map((a) => ({ image: a.image, prompt: a.prompt })),
      { temperature: 0, maxNewTokens, seed: 0 },
    );
    asks.forEach((a, j) => (lookedUp += gen[j][0].text.split('\n')[0] === a.response ? 1 : 0));
  }
  const n = withScene.length;
  return { n, cells: cells ? right / cells : 0, exact: n ? exact / n : 0, lookup: n ? lookedUp / n : 0 };
}

// ---- difficulty ----------------------------------------------------------------------------------

export interface DifficultyChunk {
  chunk: number;
  /** Per row of the chunk: its index in the train split and the attempts needed (attempts + 1 = failed all). */
  rows: { index: number; needed: number; verdicts: Array<Verdict | null> }[];
}

/**
 * The paper's difficulty for one chunk of rows: attempt a (temperature `temperature`) is sampled for the rows
 * still without a right verdict, a = 1..attempts; the draw is a pure function of (seed, chunk, attempt).
 */
export async function difficultyChunk(
  model: PolicyModel,
  rows: readonly TrainRow[],
  images: ImageCache,
  opts: { seed: number; chunk: number; attempts: number; temperature: number; maxNewTokens: number },
): Promise<DifficultyChunk> {
  const verdicts: Array<Array<Verdict | null>> = rows.map(() => []);
  const solved = rows.map(() => false);
  for (let a = 0; a < opts.attempts; a++) {
    const pending = rows.map((_, i) => i).filter((i) => !solved[i]);
    if (pending.length === 0) break;
    const gen = await model.generate(
      pending.map((i) => images.input(rows[i])),
      { temperature: opts.temperature, maxNewTokens: opts.maxNewTokens, seed: hashSeed(opts.seed, 'difficulty', opts.chunk, a) },
    );
    pending.forEach((i, j) => {
      const v = verdictOf(gen[j][0].text);
      verdicts[i].push(v);
      if (v === rows[i].label) solved[i] = true;
    });
  }
  return {
    chunk: opts.chunk,
    rows: rows.map((r, i) => ({ index: r.index, needed: difficultyFromVerdicts(verdicts[i], r.label, opts.attempts), verdicts: verdicts[i] })),
  };
}

// ---- Voting@K ------------------------------------------------------------------------------------

export interface VotingChunk {
  chunk: number;
  rows: { index: number; id: string; label: 1 | 2; level: number | null; category: string; verdicts: Array<Verdict | null>; meanLength: number }[];
}

export async function votingChunk(
  model: PolicyModel,
  rows: readonly TrainRow[],
  images: ImageCache,
  opts: { seed: number; chunk: number; k: number; temperature: number; topP: number; maxNewTokens: number },
): Promise<VotingChunk> {
  const gen = await model.generate(
    rows.map((r) => images.input(r)),
    {
      n: opts.k,
      temperature: opts.temperature,
      topP: opts.topP,
      maxNewTokens: opts.maxNewTokens,
      seed: hashSeed(opts.seed, 'voting', opts.chunk),
    },
  );
  return {
    chunk: opts.chunk,
    rows: rows.map((r, i) => ({
      index: r.index,
      id: r.id,
      label: r.label,
      level: levelOf(r),
      category: r.category ?? 'all',
      verdicts: gen[i].map((s) => verdictOf(s.text)),
      meanLength: gen[i].reduce((a, s) => a + s.tokens.length, 0) / gen[i].length,
    })),
  };
}

/** "temperature 1" or "temperature 1, top-p 0.95": how Voting@K's samples are drawn, as logs and the summary say it. */
export function samplingText(s: { temperature: number; topP: number }): string {
  return `temperature ${s.temperature}${s.topP < 1 ? `, top-p ${s.topP}` : ''}`;
}

export interface VotingSummary {
  k: number;
  n: number;
  votingAtK: Record<string, number>;
  anyCorrectAtK: Record<string, number>;
  hard: { n: number; votingAtK: Record<string, number> };
  /**
   * Share of the n x k samples without a readable verdict (no vote; e.g. a closing tag broken by one unlikely token
   * sampled at temperature 1): a failure of format, not of judgement, shown so a reader can tell the two apart.
   */
  unreadable: number;
  /** Greedy accuracy of the same model on the same test rows (null: not known), the figure Voting@K must beat. */
  greedy: number | null;
  /** How the samples were drawn (eval.votingTemperature, eval.votingTopP; absent in runs from before it was kept). */
  sampling?: { temperature: number; topP: number };
}

/** `greedy`: the final model's greedy outputs on the test split (its evals file), matched to the voted rows by id. */
export function summarizeVoting(chunks: readonly VotingChunk[], k: number, hardLevels: readonly number[], greedy: readonly GreedyOutput[] = []): VotingSummary {
  const rows = chunks.flatMap((c) => c.rows);
  const evals = (rs: typeof rows): Evaluation[] =>
    rs.map((r) => ({
      key: r.id,
      id: r.id,
      category: r.category,
      order: 'original',
      label: r.label,
      verdicts: r.verdicts,
      ...(r.level !== null ? { difficulty: r.level } : {}),
    }));
  const hard = rows.filter((r) => r.level !== null && hardLevels.includes(r.level));
  return {
    k,
    n: rows.length,
    votingAtK: votingAtK(evals(rows), k),
    anyCorrectAtK: anyCorrectAtK(evals(rows), k),
    hard: { n: hard.length, votingAtK: votingAtK(evals(hard), k) },
    unreadable: rows.length === 0 ? 0 : rows.reduce((a, r) => a + r.verdicts.filter((v) => v === null).length, 0) / (rows.length * k),
    greedy: greedyOn(
      rows.map((r) => r.id),
      greedy,
    ),
  };
}

/** Accuracy of `outputs` on the rows `ids`, or null when some row has no output. */
function greedyOn(ids: readonly string[], outputs: readonly GreedyOutput[]): number | null {
  const byId = new Map(outputs.map((o) => [o.id, o.correct]));
  if (ids.length === 0 || ids.some((id) => !byId.has(id))) return null;
  return ids.filter((id) => byId.get(id)).length / ids.length;
}

export { chunks };
