/**
 * Phase 4, stage 2: StableReinforce (or REINFORCE++ / GRPO) on the samples the stage-1 model finds hard.
 * The pool: the hard measured samples (rl.pool), each also with its responses exchanged (rl.swapAugment); a
 * curriculum over their difficulty picks rl.promptsPerStep of them per step, and ../rl.ts rlStep samples,
 * rewards and updates (its steps are documented there). Greedy test accuracy every rl.evalEvery steps.
 *
 * In: OUT/difficulty.json and the stage-1 model (OUT/stage1-model is the KL reference). Out: the stage-2
 * results (in the run's results), the final model saved as OUT/model, and the checkpoint 'rl-end'
 * (next phase: final).
 */
import * as path from 'path';
import { Rng } from '../../data/rng';
import { AdamW } from '../../model/adamw';
import { PolicyModel } from '../../model/policy-model';
import { createRewardStats } from '../../rewards/combine';
import { RuleBasedJudge } from '../../rewards/judge';
import { effectiveRl } from '../config';
import { Curriculum, isHard, parseSchedule } from '../curriculum';
import { type TrainRow, withSwapped } from '../dataset';
import { type AccuracySummary, evalFields } from '../evaluate';
import type { StepLine } from '../metrics';
import { rlLearningRate, rlStep } from '../rl';
import { shuffledLabels } from '../rl-regime';
import { INTERRUPTED, type Interrupted, type Run } from '../run';
import { pct } from '../summary';
import type { DifficultyFile } from './difficulty';

export interface Stage2Input {
  difficulty: Pick<DifficultyFile, 'rows'>;
  /** Stage-1 steps: RL step k is global step sftSteps + k. */
  sftSteps: number;
}

export interface Stage2Result {
  /** Greedy test results of the final model (null: rl.steps = 0). */
  stage2: AccuracySummary | null;
  pool: { size: number; fallback: boolean };
}

/** rl.easyShare's guards: not-hard measured rows, seeded, share/(1 - share) of the hard ones in number (all at most). */
function guards(measured: readonly TrainRow[], hard: ReadonlySet<TrainRow>, share: number, seed: number): TrainRow[] {
  const easy = measured.filter((r) => !hard.has(r));
  const n = Math.min(easy.length, Math.round((hard.size * share) / (1 - share)));
  return Rng.derive(seed, 'rl-guards').shuffle(easy).slice(0, n);
}

export async function rl(run: Run, input: Stage2Input): Promise<Stage2Result | Interrupted> {
  const c = run.config;
  const { results } = run;
  const on = effectiveRl(c.rl);
  const neededOf = new Map(input.difficulty.rows.map((r) => [r.index, r.needed]));
  const measured = run.data.train.filter((r) => neededOf.has(r.index));
  let pool: TrainRow[] = c.rl.pool === 'hard' ? measured.filter((r) => isHard(neededOf.get(r.index)!, c.difficulty.hardThreshold)) : measured;
  const fallback = pool.length === 0;
  if (fallback) pool = measured;
  const withGuards = !fallback && c.rl.pool === 'hard' && c.rl.easyShare > 0;
  const guardRows = withGuards ? guards(measured, new Set(pool), c.rl.easyShare, c.seed) : [];
  const nHard = pool.length;
  pool = [...pool, ...guardRows];
  if (c.rl.swapAugment) pool = withSwapped(pool);
  if (c.rl.randomLabels) {
    const labels = shuffledLabels(
      pool.map((r) => r.label),
      Rng.derive(c.seed, 'rl-random-labels'),
    );
    pool = pool.map((r, i) => ({ ...r, label: labels[i] }));
  }
  results.rlPool = { size: pool.length, fallback };
  const curriculum = new Curriculum(
    pool.map((r) => ({ level: r.difficulty, hardness: neededOf.get(r.index) })),
    { schedule: parseSchedule(c.rl.curriculum), totalSteps: Math.max(1, c.rl.steps), batchSize: c.rl.promptsPerStep, seed: c.seed },
  );
  if (c.rl.steps > 0) {
    const onOff = (b: boolean) => (b ? 'on' : 'off');
    const kl = c.rl.klCoef > 0 ? `KL ${c.rl.klEstimator} ${c.rl.klCoef} in the ${c.rl.klIn}` : 'no KL';
    const perUpdate = c.rl.rolloutsPerUpdate === null ? 'one AdamW step per pass' : `AdamW steps of ${c.rl.rolloutsPerUpdate} rollouts`;
    run.log(
      `stage 2 (${c.rl.algo}; Pre-CLIP ${onOff(on.preClip)}, Advantage Filter ${onOff(on.filter)}, consistency reward ${onOff(on.consistency)}): ` +
        `${c.rl.steps} steps of ${c.rl.promptsPerStep} prompts x ${c.rl.samplesPerPrompt} samples from ${pool.length} ${fallback ? 'training (no hard ones)' : withGuards ? 'hard and guard' : c.rl.pool} samples` +
        `${withGuards ? ` (${nHard} hard, ${guardRows.length} guards: rl.easyShare ${c.rl.easyShare})` : ''}` +
        `${c.rl.swapAugment ? ' (each in both response orders)' : ''}` +
        `${c.rl.randomLabels ? '; RANDOM-LABEL CONTROL: rewards from shuffled labels' : ''}` +
        `${fallback ? '' : `; curriculum ${c.rl.curriculum}`}`,
    );
    run.log(
      `stage 2 regime: baseline ${on.baseline}, dynamic filter ${onOff(on.dynamicFilter)}, ${kl}; ${c.rl.ppoEpochs} pass(es) per step, ${perUpdate}; ` +
        `lr ${c.rl.lr} (warm-up ${Math.round(c.rl.lrWarmup * c.rl.steps)} steps, cosine to ${c.rl.minLrRatio}x), betas ${c.rl.betas.join('/')}, weight decay ${c.rl.weightDecay}`,
    );
  }
  using ref = c.rl.klCoef > 0 || c.rl.trackRefKl ? await PolicyModel.load(path.join(run.out, 'stage1-model'), { device: run.model.device }) : null;
  using opt = new AdamW(run.model, { lr: c.rl.lr, betas: [c.rl.betas[0], c.rl.betas[1]], weightDecay: c.rl.weightDecay, maxGradNorm: c.rl.maxGradNorm });
  await run.restoreOptimizer(opt);
  // Judge counters continue across resumes (they are part of the checkpointed results).
  const rewardStats = Object.assign(createRewardStats(), results.rewardJudge ?? {});
  const ctx = { model: run.model, ref, opt, judge: new RuleBasedJudge(), rewardStats, rl: c.rl, seed: c.seed, input: (r: TrainRow) => run.images.input(r) };
  const b = run.progress('stage 2 RL', c.rl.steps);
  b.start(run.state.step, c.rl.steps);
  for (let step = run.state.step; step < c.rl.steps; step++) {
    if (run.interrupted()) {
      await run.checkpoint(`rl-${String(step).padStart(6, '0')}`, 'rl', step, opt);
      b.finish('interrupted');
      return INTERRUPTED;
    }
    const t = Date.now();
    opt.lr = rlLearningRate(c.rl, step);
    const phase = curriculum.phaseAt(step);
    const rows = curriculum.batch(step).map((i) => pool[i]);
    const m = await rlStep(ctx, step, rows, c.debug.nonFiniteSteps.rl.includes(step + 1));
    results.skippedUpdates += m.skippedUpdates;
    results.rewardJudge = { ...rewardStats } as Record<string, number | string>;
    if (m.skippedUpdates)
      run.log(
        `stage 2 step ${step + 1}: ${m.skippedUpdates} of ${m.updates} update(s) skipped (non-finite ${m.skipReasons.join(', ')}); the weights were not updated by them`,
      );
    const globalStep = input.sftSteps + step + 1;
    const line: StepLine = { stage: 'rl', step: step + 1, globalStep, ...m, lr: opt.lr, curriculumPhase: phase.phase, poolSize: phase.pool.length, seconds: 0 };
    if ((step + 1) % c.rl.evalEvery === 0 || step + 1 === c.rl.steps) {
      const tag = step + 1 === c.rl.steps ? 'stage2' : `rl-${step + 1}`;
      const e = await run.evalGreedy(tag);
      results.evals.push({ tag, stage: 'rl', step: step + 1, globalStep, summary: e.summary });
      if (tag === 'stage2') results.stage2 = e.summary;
      line.eval = evalFields(tag, e.summary);
    }
    line.seconds = (Date.now() - t) / 1000;
    run.addTime('rl', line.seconds as number);
    run.logStep(line);
    b.update(step + 1);
    if (step + 1 < c.rl.steps && (step + 1) % c.rl.checkpointEvery === 0) await run.checkpoint(`rl-${String(step + 1).padStart(6, '0')}`, 'rl', step + 1, opt);
  }
  b.finish();
  if (c.rl.steps > 0) run.log(`stage 2 done: test accuracy ${pct(results.stage2!.accuracy)}, hard subset ${pct(results.stage2!.hard.accuracy)}`);
  await run.saveModel('model');
  await run.checkpoint('rl-end', 'final', 0, null);
  return { stage2: c.rl.steps > 0 ? results.stage2! : null, pool: results.rlPool };
}
