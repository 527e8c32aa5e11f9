/**
 * Stage 1 as its two phases share it: the vision warm-up (vision.ts: caption steps, then cell-lookup steps) and
 * supervised training on the teacher analyses (sft.ts) are one run of steps, with one optimizer, one step count
 * (checkpoint phase 'sft') and one progress bar. Each step: a batch -> sftStep (mean NLL, guarded AdamW update)
 * -> one metrics.jsonl line; the last step of the stage also carries the stage-1 test evaluation.
 */
import { Rng } from '../../data/rng';
import { AdamW } from '../../model/adamw';
import type { ModelExample } from '../../model/policy-model';
import { type TrainRow, captionExample, lookupExample } from '../dataset';
import { captionTest, evalFields } from '../evaluate';
import type { StepLine } from '../metrics';
import { INTERRUPTED, type Interrupted, type Progress, type Run } from '../run';
import { sftStep, type SftStepResult } from '../update';

/** Stage 1's rows and step counts. */
export interface Stage1Plan {
  /** Training rows with a teacher analysis, and those with a scene to caption. */
  sftRows: TrainRow[];
  captionRows: TrainRow[];
  /** Caption warm-up steps: vision.steps until the warm-up has ended (vision.untilLoss can end it early). */
  visionSteps: number;
  lookupSteps: number;
  analysisSteps: number;
  stepsPerEpoch: number;
  /** Captions (or cell lookups) added to every batch of teacher analyses. */
  captionsPerBatch: number;
}

export function stage1Plan(run: Run): Stage1Plan {
  const c = run.config;
  const sftRows = run.data.train.filter((r) => typeof r.teacher === 'string' && r.teacher !== '');
  const captionRows = run.data.train.filter((r) => r.scene !== undefined);
  const stepsPerEpoch = Math.ceil(sftRows.length / c.sft.batchSize);
  return {
    sftRows,
    captionRows,
    visionSteps: run.state.visionSteps ?? (captionRows.length > 0 ? c.vision.steps : 0),
    lookupSteps: captionRows.length > 0 ? c.vision.lookupSteps : 0,
    analysisSteps: c.sft.epochs * stepsPerEpoch,
    stepsPerEpoch,
    captionsPerBatch: captionRows.length > 0 ? Math.round(c.vision.captionShare * c.sft.batchSize) : 0,
  };
}

/** All stage-1 steps (the global step of the first RL step is this + 1). */
export const stage1Steps = (p: Stage1Plan) => p.visionSteps + p.lookupSteps + p.analysisSteps;

/** Stage 1 in progress: the plan, the optimizer both phases step, and the progress bar. */
export interface Stage1 extends Disposable {
  plan: Stage1Plan;
  readonly opt: AdamW;
  readonly bar: Progress;
}

/** Says what stage 1 will do, and makes (or restores) its optimizer. */
export async function startStage1(run: Run): Promise<Stage1> {
  const c = run.config;
  const plan = stage1Plan(run);
  const { state } = run;
  if (plan.sftRows.length === 0 && c.sft.epochs > 0) throw new Error('stage 1 needs teacher analyses: no training row has a "teacher" field');
  if (plan.captionRows.length === 0 && (c.vision.steps > 0 || c.vision.lookupSteps > 0 || c.vision.captionShare > 0))
    run.log('vision warm-up skipped: the training rows carry no scene to caption');
  if (plan.visionSteps > 0 && state.visionSteps === undefined) {
    const v = c.vision;
    run.log(
      `stage 1 vision warm-up: ${v.untilLoss !== null ? `up to ${plan.visionSteps} caption steps of ${v.batchSize}, until the caption loss is below ${v.untilLoss}` : `${plan.visionSteps} caption steps of ${v.batchSize}`}`,
    );
  }
  // Like the warm-up's line: said when the phase is still ahead, not again by a run resumed past it.
  if (plan.lookupSteps > 0 && state.step < plan.visionSteps + plan.lookupSteps)
    run.log(`stage 1 lookup warm-up: ${plan.lookupSteps} steps of ${c.vision.batchSize} cell lookups after the task prompt`);
  run.log(
    `stage 1 (SFT): ${plan.sftRows.length} rows, ${c.sft.epochs} epoch(s), ${plan.analysisSteps} steps of ${c.sft.batchSize}` +
      (plan.captionsPerBatch > 0 ? ` + ${plan.captionsPerBatch} caption(s)` : ''),
  );
  const opt = new AdamW(run.model, { lr: c.sft.lr, weightDecay: c.sft.weightDecay, maxGradNorm: c.sft.maxGradNorm });
  await run.restoreOptimizer(opt);
  const bar = run.progress('stage 1 SFT', stage1Steps(plan));
  bar.start(state.step, stage1Steps(plan));
  return { plan, opt, bar, [Symbol.dispose]: () => opt.dispose() };
}

/**
 * Image examples of random training images: captions, or with probability lookupShare cell lookups. Warm-up
 * captions follow the short caption prompt (learnt fastest); the examples mixed into the analysis batches
 * follow the row's task prompt, the distance from the image at which the analysis reads it.
 */
export function imageExamples(
  run: Run,
  rows: readonly TrainRow[],
  purpose: string,
  step: number,
  n: number,
  afterTask: boolean,
  lookupShare = 0,
): ModelExample[] {
  const rng = Rng.derive(run.config.seed, purpose, step);
  return Array.from({ length: n }, () => {
    const row = rows[rng.int(rows.length)];
    return lookupShare > 0 && rng.chance(lookupShare) ? lookupExample(run.images, row, rng, afterTask) : captionExample(run.images, row, afterTask);
  });
}

/** What a phase gives one stage-1 step: its batch and how to log it (the learning rate is set on s.opt). */
export interface Stage1Batch {
  batch: ModelExample[];
  task: 'caption' | 'lookup' | 'analysis';
  epoch: number;
}

/**
 * One stage-1 step: stops with a checkpoint first when interrupted, then `prepare` (sets the learning rate,
 * draws the batch), the update, and the metrics line (with the stage-1 evaluation on the stage's last step).
 */
export async function stage1Step(run: Run, s: Stage1, step: number, prepare: () => Stage1Batch): Promise<SftStepResult | Interrupted> {
  if (run.interrupted()) {
    await run.checkpoint(`sft-${String(step).padStart(6, '0')}`, 'sft', step, s.opt);
    s.bar.finish('interrupted');
    return INTERRUPTED;
  }
  const t = Date.now();
  const { batch, task, epoch } = prepare();
  const r = await sftStep(run.model, s.opt, batch, run.config.debug.nonFiniteSteps.sft.includes(step + 1));
  if (r.skipped) {
    run.results.skippedUpdates++;
    run.log(`stage 1 step ${step + 1}: skipped (non-finite ${r.reason}); the weights were not updated`);
  }
  const line: StepLine = {
    stage: 'sft',
    step: step + 1,
    globalStep: step + 1,
    task,
    epoch: epoch + 1,
    loss: Number.isFinite(r.loss) ? r.loss : null,
    gradNorm: Number.isFinite(r.gradNorm) ? r.gradNorm : null,
    lr: s.opt.lr,
    tokens: r.tokens,
    skipped: r.skipped,
    skipReason: r.reason,
    seconds: 0,
  };
  if (step + 1 === stage1Steps(s.plan)) await evaluateStage1(run, s.plan, step + 1, line);
  line.seconds = (Date.now() - t) / 1000;
  run.addTime('sft', line.seconds as number);
  run.logStep(line);
  s.bar.update(step + 1);
  return r;
}

/** A checkpoint every sft.checkpointEvery steps (but not after the last: the phase's end takes one). */
export async function periodicCheckpoint(run: Run, s: Stage1, step: number): Promise<void> {
  if (step + 1 < stage1Steps(s.plan) && (step + 1) % run.config.sft.checkpointEvery === 0)
    await run.checkpoint(`sft-${String(step + 1).padStart(6, '0')}`, 'sft', step + 1, s.opt);
}

/**
 * The stage-1 model on the test split: greedy accuracy (evals/stage1.json), and the caption and lookup tests when
 * stage 1 trained on images; recorded in the results and, after `steps` steps, in that step's metrics line.
 */
export async function evaluateStage1(run: Run, plan: Stage1Plan, steps: number, line: StepLine | null): Promise<void> {
  const e = await run.evalGreedy('stage1');
  run.results.stage1 = e.summary;
  run.results.evals.push({ tag: 'stage1', stage: 'sft', step: steps, globalStep: steps, summary: e.summary });
  if (!line) return;
  line.eval = evalFields('stage1', e.summary);
  if (plan.visionSteps > 0 || plan.lookupSteps > 0 || plan.captionsPerBatch > 0) {
    run.results.vision = await captionTest(run.model, run.data.test, run.images, { batchSize: run.config.eval.batchSize });
    line.captionCells = run.results.vision.cells;
  }
}
