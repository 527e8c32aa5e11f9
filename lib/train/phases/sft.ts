/**
 * Phase 2, supervised training on the teacher analyses (stage 1 after the vision warm-up): sft.epochs passes
 * over the training rows that carry a teacher analysis (`<think>evidence, reasoning</think><answer>N</answer>`),
 * in a seeded order per epoch, sft.batchSize rows per step with vision.captionShare captions (a
 * vision.lookupShare of them cell lookups) mixed in; warm-up + cosine learning rate. The stage's last step
 * carries the greedy test evaluation and the caption test.
 *
 * In: stage 1 after the warm-up. Out: the stage-1 model's test results (also in the run's results), the model
 * saved as OUT/stage1-model (the reference of stage 2), and the checkpoint 'stage1-end' (next phase: difficulty).
 */
import { Rng } from '../../data/rng';
import type { AccuracySummary, VisionSummary } from '../evaluate';
import { pct } from '../summary';
import { INTERRUPTED, type Interrupted, type Run } from '../run';
import { cosineLr } from '../update';
import { type Stage1, evaluateStage1, imageExamples, periodicCheckpoint, stage1Step, stage1Steps } from './stage1';

export interface Stage1Result {
  stage1: AccuracySummary;
  vision: VisionSummary | null;
}

export async function sft(run: Run, s: Stage1): Promise<Stage1Result | Interrupted> {
  const c = run.config;
  const { plan } = s;
  const first = plan.visionSteps + plan.lookupSteps;
  let permEpoch = -1;
  let perm: number[] = [];
  for (let step = Math.max(run.state.step, first); step < stage1Steps(plan); step++) {
    const r = await stage1Step(run, s, step, () => {
      const within = step - first; // step within the teacher-analysis part
      const epoch = Math.floor(within / plan.stepsPerEpoch);
      if (epoch !== permEpoch) {
        perm = Rng.derive(c.seed, 'sft', epoch).shuffle(plan.sftRows.map((_, i) => i));
        permEpoch = epoch;
      }
      const at = within % plan.stepsPerEpoch;
      const rows = perm.slice(at * c.sft.batchSize, (at + 1) * c.sft.batchSize).map((i) => plan.sftRows[i]);
      s.opt.lr = cosineLr(within, plan.analysisSteps, c.sft.lr, c.sft.warmupSteps, c.sft.minLrRatio);
      const analyses = rows.map((row) => ({ ...run.images.input(row), response: row.teacher as string }));
      return {
        batch: [...analyses, ...imageExamples(run, plan.captionRows, 'sft-captions', within, plan.captionsPerBatch, true, c.vision.lookupShare)],
        task: 'analysis',
        epoch,
      };
    });
    if (r === INTERRUPTED) return r;
    await periodicCheckpoint(run, s, step);
  }
  s.bar.finish();
  const { results } = run;
  if (!results.stage1) {
    // No stage-1 steps: the stage-1 model is the initial model.
    const t = Date.now();
    await evaluateStage1(run, plan, 0, null);
    run.addTime('sft', (Date.now() - t) / 1000);
  }
  const stage1 = results.stage1!;
  run.log(`stage 1 done: test accuracy ${pct(stage1.accuracy)}, hard subset ${pct(stage1.hard.accuracy)} (n=${stage1.hard.n})`);
  if (results.vision) {
    const v = results.vision;
    run.log(
      `stage 1 caption test: ${pct(v.cells)} of the test images' cells read right, ${pct(v.exact)} of the images entirely; single cells looked up by name ${pct(v.lookup)}`,
    );
  }
  await run.saveModel('stage1-model');
  await run.checkpoint('stage1-end', 'difficulty', 0, null);
  return { stage1, vision: results.vision ?? null };
}
