/**
 * Phase 1, the vision warm-up (stage 1's first steps): the built-in model starts from random weights, so before
 * it reads the teacher analyses it learns to read the images. Caption steps ("Describe the image." -> one line per
 * grid cell, from the row's scene) until vision.steps or, with vision.untilLoss, until the mean caption loss of
 * the last 50 steps is below it; then vision.lookupSteps steps of cell lookups after the task prompt.
 *
 * In: stage 1 at its start (or resumed within the warm-up). Out: stage 1 with the warm-up's final length
 * (also kept in the checkpoint state, so a resumed run ends it at the same step), ready for sft.ts.
 */
import type { Interrupted, Run } from '../run';
import { INTERRUPTED } from '../run';
import { cosineLr } from '../update';
import { type Stage1, imageExamples, periodicCheckpoint, stage1Step, stage1Steps } from './stage1';

/** The caption losses the early end of the warm-up averages. */
const LOSS_WINDOW = 50;

export async function visionWarmup(run: Run, s: Stage1): Promise<Stage1 | Interrupted> {
  const c = run.config;
  const { state } = run;
  const { plan } = s;
  const losses: number[] = state.visionLosses ?? [];
  for (let step = state.step; step < plan.visionSteps + plan.lookupSteps; step++) {
    const caption = step < plan.visionSteps;
    const r = await stage1Step(run, s, step, () => {
      if (caption) {
        // Constant after the warm-up of the rate: a decaying rate can stall the drop the warm-up waits for.
        s.opt.lr = cosineLr(step, plan.visionSteps, c.vision.lr, c.vision.warmupSteps, 1);
        return { batch: imageExamples(run, plan.captionRows, 'vision', step, c.vision.batchSize, false), task: 'caption', epoch: 0 };
      }
      s.opt.lr = c.vision.lr;
      return { batch: imageExamples(run, plan.captionRows, 'vision-lookup', step, c.vision.batchSize, true, 1), task: 'lookup', epoch: 0 };
    });
    if (r === INTERRUPTED) return r;
    if (caption && state.visionSteps === undefined) {
      if (Number.isFinite(r.loss)) losses.push(r.loss);
      if (losses.length > LOSS_WINDOW) losses.shift();
      const mean = losses.reduce((a, x) => a + x, 0) / Math.max(1, losses.length);
      const reached = c.vision.untilLoss !== null && losses.length === LOSS_WINDOW && mean < c.vision.untilLoss;
      if (reached || step + 1 === plan.visionSteps) {
        state.visionSteps = plan.visionSteps = step + 1;
        s.bar.start(step + 1, stage1Steps(plan));
        if (c.vision.untilLoss !== null) {
          run.log(
            reached
              ? `stage 1 vision warm-up done after ${step + 1} steps: caption loss ${mean.toFixed(4)} (mean of the last ${LOSS_WINDOW}) < ${c.vision.untilLoss}`
              : `stage 1 vision warm-up: the caption loss (${mean.toFixed(4)}) did not fall below ${c.vision.untilLoss} in ${step + 1} steps; the model may not read the images`,
          );
        }
      }
      state.visionLosses = state.visionSteps === undefined ? losses : undefined;
    }
    await periodicCheckpoint(run, s, step);
  }
  return s;
}
