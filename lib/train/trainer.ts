/**
 * The two-stage R1-Reward training run (`stable-reinforce train`), as a state machine over its phases
 * (phases/*.ts, one module each, in the order a sample meets them):
 *
 *   data        the rows, their images, the tokenizer and the model                    phases/data.ts
 *   vision      stage 1 starts: caption (and cell-lookup) steps until the model reads  phases/vision.ts
 *   sft         stage 1: supervised training on the teacher analyses; test accuracy   phases/sft.ts
 *   difficulty  attempts the stage-1 model needs per training sample (up to 3)         phases/difficulty.ts
 *   rl          stage 2: StableReinforce (or a baseline) on the hard samples            phases/rl.ts
 *   final       Voting@K on the test split, summary.json, report.html + PNG plots      phases/final.ts
 *
 * Each phase ends with a checkpoint (checkpoint.ts) naming the next one; checkpoints are also taken every few
 * steps, and `resume` continues from the latest. Every random draw comes from a generator derived from (seed,
 * purpose, step), so a resumed run draws what the uninterrupted run would have drawn.
 */
import * as path from 'path';
import { type CheckpointState, findLatestCheckpoint, initialCheckpointState, readJson, writeJsonAtomic } from './checkpoint';
import { type TrainConfig, configDifferences } from './config';
import { MetricsLog, type StepLine } from './metrics';
import { prepareRun, modelDevice } from './phases/data';
import { type DifficultyFile, difficulty, difficultyFile } from './phases/difficulty';
import { final } from './phases/final';
import { rl } from './phases/rl';
import { sft } from './phases/sft';
import { stage1Plan, stage1Steps, startStage1 } from './phases/stage1';
import { visionWarmup } from './phases/vision';
import { INTERRUPTED, type ProgressEvent, Run } from './run';
import { openRunFolder } from './run-folder';
import type { RunSummary } from './types';

export interface TrainOptions {
  config: TrainConfig;
  out: string;
  /** Continue the run in `out` from its latest checkpoint. */
  resume?: boolean;
  /** Train into a non-empty `out` that is not a run (run-folder.ts); what is there may be overwritten. */
  force?: boolean;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
  /** Progress of the long tasks, for progress bars (the CLI draws them; default: none). */
  onProgress?: (event: ProgressEvent) => void;
  /** Stops after the current step with a checkpoint; train() then resolves with interrupted = true. */
  signal?: AbortSignal;
  /** Called with every metrics line as it is written. */
  onStep?: (line: StepLine) => void;
  /** Write report.html and PNGs at the end (default true). */
  report?: boolean;
  /**
   * Stop when the run reaches this phase, after the checkpoint that starts it: train() resolves with
   * `stoppedAt` set and no summary. E.g. 'rl': stage 1 once, then several stage-2 settings from it (forkRun).
   */
  until?: 'difficulty' | 'rl' | 'final';
}

export interface TrainResult {
  out: string;
  interrupted: boolean;
  summary: RunSummary | null;
  /** The phase the run stopped before (options.until), or undefined. */
  stoppedAt?: 'difficulty' | 'rl' | 'final';
}

/** The phases a run can stop before (TrainOptions.until). */
export const UNTIL_PHASES: readonly string[] = ['difficulty', 'rl', 'final'];

/** Runs (or resumes) training in `options.out`, holding the run folder's lock throughout (run-folder.ts). */
export async function train(options: TrainOptions): Promise<TrainResult> {
  if (options.until !== undefined && !UNTIL_PHASES.includes(options.until))
    throw new RangeError(`options.until must be one of ${UNTIL_PHASES.join(', ')}, got ${JSON.stringify(options.until)}`);
  const folder = openRunFolder(path.resolve(options.out), { resume: options.resume === true, force: options.force === true });
  try {
    if (folder.cleaned.length) options.log?.(`removed ${folder.cleaned.length} temporary file(s) left by killed processes`);
    return await trainInFolder(options);
  } finally {
    folder.release();
  }
}

async function trainInFolder(options: TrainOptions): Promise<TrainResult> {
  const c = options.config;
  const out = path.resolve(options.out);
  const log = options.log ?? (() => undefined);
  const device = modelDevice(c.device, log);

  // ---- run folder and config (the folder's rules were checked by openRunFolder) ----
  const configFile = path.join(out, 'config.json');
  if (options.resume) {
    const diff = configDifferences(await readJson<TrainConfig>(configFile), c).filter((d) => !d.startsWith('config.device'));
    if (diff.length) throw new Error(`--resume: the configuration differs from the run's config.json in ${out}:\n  ${diff.join('\n  ')}`);
  } else await writeJsonAtomic(configFile, c);
  const ckpt = options.resume ? await findLatestCheckpoint(out) : null;
  if (options.resume)
    log(
      ckpt
        ? `resuming ${out} from checkpoint ${ckpt.name} (phase ${ckpt.state.phase}, step ${ckpt.state.step})`
        : `resuming ${out}: no checkpoint yet, starting from the beginning`,
    );
  const state: CheckpointState = ckpt?.state ?? initialCheckpointState(c.seed);

  const hooks = { log, onProgress: options.onProgress, onStep: options.onStep, signal: options.signal };
  const start = { config: c, out, device, state, resumedFrom: ckpt?.dir ?? null };
  const { data, images, model: created } = await prepareRun(start, hooks);
  using model = created;
  using metrics = new MetricsLog(path.join(out, 'metrics.jsonl'), state.metricsBytes, state.metricsLines);
  return await runPhases(new Run(c, out, data, images, model, state, start.resumedFrom, metrics, hooks), options.report !== false, options.until);
}

/** The phases from the checkpoint's on, each ending with the checkpoint that names the next. */
async function runPhases(run: Run, report: boolean, until: TrainOptions['until']): Promise<TrainResult> {
  const stopped: TrainResult = { out: run.out, interrupted: true, summary: null };
  const sftSteps = () => stage1Steps(stage1Plan(run));
  const order = ['sft', 'difficulty', 'rl', 'final', 'done'];
  if (until !== undefined && order.indexOf(run.state.phase) > order.indexOf(until))
    throw new RangeError(`options.until: the run in ${run.out} is already at phase "${run.state.phase}", past "${until}"`);
  for (;;) {
    if (until !== undefined && run.state.phase === until) return { out: run.out, interrupted: false, summary: null, stoppedAt: until };
    switch (run.state.phase) {
      case 'sft': {
        using stage1 = await startStage1(run);
        const warmedUp = await visionWarmup(run, stage1);
        if (warmedUp === INTERRUPTED || (await sft(run, warmedUp)) === INTERRUPTED) return stopped;
        break;
      }
      case 'difficulty':
        if ((await difficulty(run)) === INTERRUPTED) return stopped;
        break;
      case 'rl': {
        const input = { difficulty: await readJson<DifficultyFile>(difficultyFile(run.out)), sftSteps: sftSteps() };
        if ((await rl(run, input)) === INTERRUPTED) return stopped;
        break;
      }
      case 'final': {
        const summary = await final(run, { sftSteps: sftSteps(), report });
        return summary === INTERRUPTED ? stopped : { out: run.out, interrupted: false, summary };
      }
      case 'done':
        run.log(`${run.out}: this run is already complete`);
        return { out: run.out, interrupted: false, summary: await readJson<RunSummary>(path.join(run.out, 'summary.json')) };
      default:
        throw new Error(`unknown phase ${String(run.state.phase)} in the checkpoint`);
    }
  }
}
