/**
 * Phase 5, the final evaluation: Voting@K of the final model on the test split (eval.votingK samples per pair at
 * eval.votingTemperature, resumable per chunk), the paired change from stage 1 to stage 2 on the same test
 * samples, summary.json with the terminal summary's lines, and report.html + plots/*.png (lib/report).
 *
 * In: every earlier phase's results (the run's results, evals/stage1.json and evals/stage2.json). Out: the
 * run's summary, and the checkpoint 'done'.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeReport } from '../../report/report';
import { readJson, writeJsonAtomic } from '../checkpoint';
import { effectiveRl } from '../config';
import { teacherBlindSpots } from '../dataset';
import { type GreedyOutput, type VotingSummary, chunks, samplingText, summarizeVoting, votingChunk } from '../evaluate';
import { INTERRUPTED, type Interrupted, type Run, resumableChunks } from '../run';
import { pairedChange, summaryLines } from '../summary';
import type { RunSummary } from '../types';

export interface FinalInput {
  /** Stage-1 steps (summary.json's sftSteps). */
  sftSteps: number;
  /** Write report.html and the PNG plots. */
  report: boolean;
}

export async function final(run: Run, input: FinalInput): Promise<RunSummary | Interrupted> {
  const c = run.config;
  const { out, results, state } = run;
  const t = Date.now();
  let voting: VotingSummary | null = null;
  if (c.eval.votingK > 0) {
    const rows = c.eval.votingLimit === null ? run.data.test : run.data.test.slice(0, c.eval.votingLimit);
    const partialFile = path.join(out, 'voting.partial.json');
    const parts = chunks(rows, Math.max(1, Math.round((2 * c.eval.batchSize) / c.eval.votingK)));
    const sampling = { temperature: c.eval.votingTemperature, topP: c.eval.votingTopP };
    run.log(`Voting@${c.eval.votingK}: ${c.eval.votingK} samples at ${samplingText(sampling)} for each of ${rows.length} test samples`);
    const opts = { seed: c.seed, k: c.eval.votingK, ...sampling, maxNewTokens: c.eval.maxNewTokens };
    const pass = { task: `voting@${c.eval.votingK}`, partialFile, phase: 'final', since: t, checkpoint: 'rl-end' } as const;
    const done = await resumableChunks(run, pass, parts, (i) => votingChunk(run.model, parts[i], run.images, { ...opts, chunk: i }));
    if (done === INTERRUPTED) return done;
    // The final model's greedy outputs: stage 2's when it ran, else stage 1's.
    const greedy = await readJson<GreedyOutput[]>(path.join(out, 'evals', c.rl.steps > 0 && results.stage2 ? 'stage2.json' : 'stage1.json')).catch(() => []);
    voting = {
      ...summarizeVoting(
        done.sort((x, y) => x.chunk - y.chunk),
        c.eval.votingK,
        c.eval.hardLevels,
        greedy,
      ),
      sampling,
    };
    await writeJsonAtomic(path.join(out, 'voting.json'), { ...voting, rows: done.flatMap((d) => d.rows) });
    await fs.promises.rm(partialFile, { force: true });
  }
  results.voting = voting ?? undefined;
  run.addTime('final', (Date.now() - t) / 1000);

  // Stage 1 against stage 2 on the same test samples, overall and on the hard levels.
  const stage1 = results.stage1!;
  const stage2 = c.rl.steps > 0 ? (results.stage2 ?? null) : null;
  const before = stage2 ? await readJson<GreedyOutput[]>(path.join(out, 'evals', 'stage1.json')) : [];
  const after = stage2 ? await readJson<GreedyOutput[]>(path.join(out, 'evals', 'stage2.json')) : [];
  const hardOf = (xs: GreedyOutput[]) => xs.filter((o) => o.level !== null && c.eval.hardLevels.includes(o.level));
  // With a teacher that errs (data.teacherSlip), also where it misreads: what stage 2 can correct.
  const blind = c.data.teacherSlip > 0 ? teacherBlindSpots(run.data.test) : null;
  const blindOf = (xs: GreedyOutput[]) => xs.filter((o) => blind!.has(o.index));
  const change = stage2
    ? {
        overall: pairedChange(before, after),
        hard: pairedChange(hardOf(before), hardOf(after)),
        blindSpots: blind ? pairedChange(blindOf(before), blindOf(after)) : null,
      }
    : { overall: null, hard: null, blindSpots: null };
  const lines = summaryLines({
    stage1,
    vision: results.vision ?? null,
    stage2,
    overall: change.overall,
    hard: change.hard,
    blindSpots: change.blindSpots,
    voting,
    hardLevels: c.eval.hardLevels,
    rlSteps: c.rl.steps,
    seconds: state.seconds,
    rlPool: results.rlPool ?? null,
    skippedSteps: results.skippedUpdates,
  });
  const summary: RunSummary = {
    out,
    preset: c.preset,
    seed: c.seed,
    algo: c.rl.algo,
    switches: effectiveRl(c.rl),
    device: { requested: c.device, model: run.model.device },
    data: { dir: run.data.dir, train: run.data.train.length, test: run.data.test.length, dropped: run.data.dropped },
    sftSteps: input.sftSteps,
    rlSteps: c.rl.steps,
    stage1,
    vision: results.vision ?? null,
    stage2,
    change,
    evals: results.evals,
    difficulty: results.difficulty ?? null,
    rlPool: results.rlPool ?? null,
    voting,
    rewardJudge: results.rewardJudge ?? {},
    skippedUpdates: results.skippedUpdates,
    seconds: state.seconds,
    lines,
    finishedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path.join(out, 'summary.json'), summary);
  if (input.report) await writeReport([out], { out: path.join(out, 'report.html'), png: path.join(out, 'plots') });
  await run.checkpoint('done', 'done', 0, null);
  return summary;
}
