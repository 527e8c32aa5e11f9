/**
 * Phase 3, the paper's difficulty: for each training sample (or a seeded subset of difficulty.limit), the
 * number of sampled attempts (temperature difficulty.temperature, up to difficulty.attempts) the stage-1 model
 * needs to give the right verdict; attempts + 1 = failed all. Hard = needed >= difficulty.hardThreshold. With
 * difficulty.source 'teacher', the teacher's attempts instead, read from its verdicts (nothing sampled).
 * Resumable per chunk of samples (OUT/difficulty.partial.json).
 *
 * In: the stage-1 model. Out: OUT/difficulty.json (what stage 2 picks its samples from), the summary in the
 * run's results, and the checkpoint 'difficulty-end' (next phase: rl).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../../data/rng';
import { writeJsonAtomic } from '../checkpoint';
import { difficultyHistogram, isHard } from '../curriculum';
import type { TrainRow } from '../dataset';
import { chunks, difficultyChunk, verdictOf } from '../evaluate';
import { INTERRUPTED, type Interrupted, type Run, resumableChunks } from '../run';

/** OUT/difficulty.json. */
export interface DifficultyFile {
  attempts: number;
  hardThreshold: number;
  histogram: Record<number, number>;
  /** Per measured training row (by its index in the split): attempts needed, and the verdicts of the attempts. */
  rows: { index: number; needed: number; verdicts: Array<1 | 2 | null> }[];
}

export const difficultyFile = (out: string) => path.join(out, 'difficulty.json');

export async function difficulty(run: Run): Promise<DifficultyFile | Interrupted> {
  const c = run.config;
  const train = run.data.train;
  const t = Date.now();
  if (c.difficulty.source === 'teacher') return teacherDifficulty(run, t);
  const partialFile = path.join(run.out, 'difficulty.partial.json');
  const measured = measuredRows(train, c.seed, c.difficulty.limit);
  const parts = chunks(measured, c.difficulty.batchSize);
  run.log(
    `difficulty: up to ${c.difficulty.attempts} sampled attempts (temperature ${c.difficulty.temperature}) for ` +
      (measured.length === train.length
        ? `each of the ${measured.length} training samples`
        : `${measured.length} of the ${train.length} training samples (difficulty.limit)`),
  );
  const opts = { seed: c.seed, attempts: c.difficulty.attempts, temperature: c.difficulty.temperature, maxNewTokens: c.difficulty.maxNewTokens };
  const pass = { task: 'difficulty', partialFile, phase: 'difficulty', since: t, checkpoint: 'stage1-end' } as const;
  const done = await resumableChunks(run, pass, parts, (i) => difficultyChunk(run.model, parts[i], run.images, { ...opts, chunk: i }));
  if (done === INTERRUPTED) return done;
  const rows = done.flatMap((d) => d.rows).sort((x, y) => x.index - y.index);
  await fs.promises.rm(partialFile, { force: true });
  return finish(run, rows, t);
}

/** Writes OUT/difficulty.json and the summary, logs the histogram, and takes the checkpoint 'difficulty-end'. */
async function finish(run: Run, rows: DifficultyFile['rows'], t: number): Promise<DifficultyFile> {
  const c = run.config;
  const histogram = difficultyHistogram(
    rows.map((r) => r.needed),
    c.difficulty.attempts,
  );
  const hard = rows.filter((r) => isHard(r.needed, c.difficulty.hardThreshold)).length;
  run.results.difficulty = { histogram, hard, total: rows.length };
  const file: DifficultyFile = { attempts: c.difficulty.attempts, hardThreshold: c.difficulty.hardThreshold, histogram, rows };
  await writeJsonAtomic(difficultyFile(run.out), file);
  run.log(
    `difficulty: ${hard} of ${rows.length} training samples are hard (${Object.entries(histogram)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ')}; ${c.difficulty.attempts + 1} = failed all)`,
  );
  run.addTime('difficulty', (Date.now() - t) / 1000);
  await run.checkpoint('difficulty-end', 'rl', 0, null);
  return file;
}

/**
 * The paper's difficulty from the teacher's attempts (difficulty.source 'teacher'): a row whose teacher verdict is
 * not its label failed all attempts (attempts + 1), every other row needed one. Nothing is sampled.
 */
async function teacherDifficulty(run: Run, t: number): Promise<DifficultyFile> {
  const c = run.config;
  const failed = c.difficulty.attempts + 1;
  run.log(`difficulty: the teacher's verdicts of the ${run.data.train.length} training samples (difficulty.source 'teacher')`);
  const rows = run.data.train.map((r) => ({ index: r.index, needed: teacherVerdict(r.teacher) === r.label ? 1 : failed, verdicts: [] }));
  return finish(run, rows, t);
}

/** The verdict of a teacher text that ends with its `<answer>N</answer>` (the evaluation's parser), or null. */
export function teacherVerdict(teacher: string | undefined): 1 | 2 | null {
  return typeof teacher === 'string' && /<\/answer>\s*$/.test(teacher) ? verdictOf(teacher) : null;
}

/** The training rows whose difficulty is measured: all, or a seeded subset of `limit` (in split order). */
function measuredRows(train: TrainRow[], seed: number, limit: number | null): TrainRow[] {
  if (limit === null || limit >= train.length) return train;
  const pick = new Set(
    Rng.derive(seed, 'difficulty-subset')
      .shuffle(train.map((_, i) => i))
      .slice(0, limit),
  );
  return train.filter((_, i) => pick.has(i));
}
