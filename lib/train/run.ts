/**
 * A training run as every phase (phases/*.ts) sees it: the configuration and run folder, the data and the
 * model, the checkpoint state the phases add their results to, and the hooks to the caller (messages, progress,
 * interruption, metrics lines). trainer.ts makes one and hands it from phase to phase.
 */
import * as fs from 'fs';
import * as path from 'path';
import { saveModelAtomic } from './run-folder';
import type { AdamW } from '../model/adamw';
import type { PolicyModel } from '../model/policy-model';
import { type CheckpointState, type Phase, loadOptimizer, readJson, saveCheckpoint, writeJsonAtomic } from './checkpoint';
import type { TrainConfig } from './config';
import type { ImageCache, RunData } from './dataset';
import { type AccuracySummary, type GreedyOutput, greedyOutputs, summarizeGreedy } from './evaluate';
import type { MetricsLog, StepLine } from './metrics';

/**
 * Progress of one task of the run ('data', 'stage 1 SFT', 'eval stage1', 'difficulty', 'stage 2 RL',
 * 'voting@K'), for a progress bar: 'start' with the items already done (a resumed task; a second 'start'
 * changes the total), 'update' as items finish, 'end' when it is over (`note`: 'interrupted').
 */
export interface ProgressEvent {
  task: string;
  event: 'start' | 'update' | 'end';
  done: number;
  total: number;
  note?: string;
}

/** One task's progress events (no-ops without a listener). */
export class Progress {
  private done = 0;

  constructor(
    private readonly task: string,
    private total: number,
    private readonly emit: ((e: ProgressEvent) => void) | undefined,
  ) {}

  start(done: number, total = this.total): void {
    this.done = done;
    this.total = total;
    this.emit?.({ task: this.task, event: 'start', done, total });
  }

  update(done: number): void {
    this.done = done;
    this.emit?.({ task: this.task, event: 'update', done, total: this.total });
  }

  finish(note?: string): void {
    this.emit?.({ task: this.task, event: 'end', done: this.done, total: this.total, ...(note ? { note } : {}) });
  }
}

export interface RunHooks {
  log: (message: string) => void;
  onProgress?: (e: ProgressEvent) => void;
  onStep?: (line: StepLine) => void;
  signal?: AbortSignal;
}

/** Returned by a phase that stopped early (Ctrl-C) after writing a checkpoint. */
export const INTERRUPTED = 'interrupted';
export type Interrupted = typeof INTERRUPTED;

export class Run {
  constructor(
    readonly config: TrainConfig,
    readonly out: string,
    readonly data: RunData,
    readonly images: ImageCache,
    readonly model: PolicyModel,
    /** Phase, step, results so far, seconds per phase: saved with every checkpoint. */
    readonly state: CheckpointState,
    /** The checkpoint folder this process resumed from (the optimizer moments), or null. */
    readonly resumedFrom: string | null,
    private readonly metrics: MetricsLog,
    private readonly hooks: RunHooks,
  ) {}

  get results() {
    return this.state.results;
  }

  log(message: string): void {
    this.hooks.log(message);
  }

  progress(task: string, total: number): Progress {
    return new Progress(task, total, this.hooks.onProgress);
  }

  interrupted(): boolean {
    return this.hooks.signal?.aborted === true;
  }

  addTime(phase: string, seconds: number): void {
    this.state.seconds[phase] = (this.state.seconds[phase] ?? 0) + seconds;
  }

  /** Appends a line to metrics.jsonl and hands it to onStep. */
  logStep(line: StepLine): void {
    this.metrics.append(line);
    this.hooks.onStep?.(line);
  }

  /** Checkpoint `name`: the model, `opt`'s moments (null: none), and the state, to continue with `phase` at `step`. */
  async checkpoint(name: string, phase: Phase, step: number, opt: AdamW | null): Promise<void> {
    this.metrics.sync();
    const s = this.state;
    s.phase = phase;
    s.step = step;
    s.optimizerSteps = opt ? opt.stepCount : 0;
    s.rng.nextStep = step;
    s.curriculumStep = phase === 'rl' ? step : 0;
    s.metricsBytes = this.metrics.bytes;
    s.metricsLines = this.metrics.lines;
    s.createdAt = new Date().toISOString();
    await saveCheckpoint(this.out, name, this.model, opt, s);
  }

  /** Loads the optimizer moments of the checkpoint resumed from, when it was taken within the current phase. */
  async restoreOptimizer(opt: AdamW): Promise<void> {
    if (this.resumedFrom && this.state.step > 0)
      await loadOptimizer(path.join(this.resumedFrom, 'optimizer.safetensors'), opt, this.model, this.state.optimizerSteps);
  }

  /** Greedy test outputs of the current model, saved as evals/<tag>.json, and their summary. */
  async evalGreedy(tag: string): Promise<{ summary: AccuracySummary; outputs: GreedyOutput[] }> {
    const c = this.config;
    const b = this.progress(`eval ${tag}`, this.data.test.length);
    b.start(0, this.data.test.length);
    const outputs = await greedyOutputs(this.model, this.data.test, this.images, {
      batchSize: c.eval.batchSize,
      maxNewTokens: c.eval.maxNewTokens,
      onProgress: (d) => b.update(d),
    });
    b.finish();
    await writeJsonAtomic(path.join(this.out, 'evals', `${tag}.json`), outputs);
    return { summary: summarizeGreedy(outputs, c.eval.hardLevels), outputs };
  }

  /** The model saved into OUT/`name` through a temporary folder and renames: readers never see half a model. */
  async saveModel(name: string): Promise<void> {
    await saveModelAtomic(this.model, path.join(this.out, name));
  }
}

const rowsIn = (chunks: readonly { rows: readonly unknown[] }[]) => chunks.reduce((a, d) => a + d.rows.length, 0);

/** A pass over chunks of rows that a resumed run continues where it stopped (difficulty, Voting@K). */
export interface ChunkedPass {
  /** Progress task name. */
  task: string;
  /** Where the chunks done so far are kept (removed by the caller once the pass is summarised). */
  partialFile: string;
  /** The phase the pass belongs to (also its key in the seconds per phase), started at `since` (ms). */
  phase: 'difficulty' | 'final';
  since: number;
  /** The checkpoint that starts the phase: taken again when the pass is interrupted. */
  checkpoint: string;
}

/**
 * `work` on each of `parts` (chunk i = parts[i]), each result saved to `partialFile`; those already there are skipped.
 * Returns them in the order they were done, or INTERRUPTED (before starting a chunk) after taking the phase's
 * checkpoint again.
 */
export async function resumableChunks<C extends { chunk: number; rows: readonly unknown[] }>(
  run: Run,
  pass: ChunkedPass,
  parts: readonly (readonly unknown[])[],
  work: (part: number) => Promise<C>,
): Promise<C[] | Interrupted> {
  const done: C[] = fs.existsSync(pass.partialFile) ? (await readJson<{ chunks: C[] }>(pass.partialFile)).chunks : [];
  const b = run.progress(
    pass.task,
    parts.reduce((a, p) => a + p.length, 0),
  );
  b.start(rowsIn(done));
  for (let i = 0; i < parts.length; i++) {
    if (done.some((d) => d.chunk === i)) continue;
    if (run.interrupted()) {
      run.addTime(pass.phase, (Date.now() - pass.since) / 1000);
      await run.checkpoint(pass.checkpoint, pass.phase, 0, null);
      b.finish('interrupted');
      return INTERRUPTED;
    }
    done.push(await work(i));
    await writeJsonAtomic(pass.partialFile, { chunks: done });
    b.update(rowsIn(done));
  }
  b.finish();
  return done;
}
