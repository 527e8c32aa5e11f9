/**
 * The two-stage R1-Reward training run (`stable-reinforce train`):
 *
 *   data        synthesise (or read) the rows, decode the images
 *   sft         stage 1: supervised training on the teacher analyses; greedy test accuracy at the end
 *   difficulty  attempts the stage-1 model needs per training sample (up to 3, temperature 1)
 *   rl          stage 2: StableReinforce (or a baseline) on the hard samples, with a curriculum;
 *               greedy test accuracy every few steps and at the end
 *   final       Voting@K on the test split, summary.json, report.html + PNG plots
 *
 * Checkpoints (checkpoint.ts) are taken every few steps and at each phase's end; `resume` continues from
 * the latest one. Every random draw comes from a generator derived from (seed, purpose, step), so a resumed
 * run draws what the uninterrupted run would have drawn.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backends } from '../backends';
import type { ProgressStream } from '../cli/progress';
import { ProgressBar } from '../cli/progress';
import { Rng } from '../data/rng';
import { AdamW } from '../model/adamw';
import { pixelStatistics } from '../model/image';
import { PolicyModel } from '../model/policy-model';
import { Tokenizer } from '../model/tokenizer';
import { createRewardStats } from '../rewards/combine';
import { RuleBasedJudge } from '../rewards/judge';
import {
  CHECKPOINT_VERSION,
  CheckpointState,
  Phase,
  findLatestCheckpoint,
  loadOptimizer,
  readJson,
  saveCheckpoint,
  writeJsonAtomic,
} from './checkpoint';
import { TrainConfig, effectiveRl, modelConfigOf } from './config';
import { Curriculum, difficultyHistogram, isHard, parseSchedule } from './curriculum';
import { ImageCache, RunData, TrainRow, captionExample, lookupExample, prepareData, runTokenizer, withSwapped } from './dataset';
import {
  AccuracySummary,
  DifficultyChunk,
  GreedyOutput,
  VisionSummary,
  VotingChunk,
  captionTest,
  VotingSummary,
  chunks,
  difficultyChunk,
  greedyOutputs,
  summarizeGreedy,
  summarizeVoting,
  votingChunk,
} from './evaluate';
import { MetricsLog, StepLine } from './metrics';
import { openRunFolder, saveModelAtomic } from './run-folder';
import { RlSettings, rlStep } from './rl';
import { PairedChange, pairedChange, summaryLines } from './summary';
import { cosineLr, sftStep } from './update';

export interface TrainOptions {
  config: TrainConfig;
  out: string;
  /** Continue the run in `out` from its latest checkpoint. */
  resume?: boolean;
  /** Train into a non-empty `out` that is not a run (run-folder.ts); what is there may be overwritten. */
  force?: boolean;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
  /** Where progress bars go (default: none). */
  progress?: ProgressStream | null;
  /** Stops after the current step with a checkpoint; train() then resolves with interrupted = true. */
  signal?: AbortSignal;
  /** Called with every metrics line as it is written. */
  onStep?: (line: StepLine) => void;
  /** Write report.html and PNGs at the end (default true). */
  report?: boolean;
}

export interface EvalRecord {
  tag: string;
  stage: 'sft' | 'rl';
  step: number;
  globalStep: number;
  summary: AccuracySummary;
}

export interface RunSummary {
  out: string;
  preset: string;
  seed: number;
  algo: string;
  switches: { preClip: boolean; filter: boolean; consistency: boolean };
  device: { requested: string; model: string };
  data: { dir: string; train: number; test: number; dropped: { train: number; test: number } };
  sftSteps: number;
  rlSteps: number;
  stage1: AccuracySummary;
  /** Caption test of the stage-1 model (null: no vision warm-up, or data without scenes). */
  vision: VisionSummary | null;
  stage2: AccuracySummary | null;
  change: { overall: PairedChange | null; hard: PairedChange | null };
  evals: EvalRecord[];
  difficulty: { histogram: Record<number, number>; hard: number; total: number } | null;
  rlPool: { size: number; fallback: boolean } | null;
  voting: VotingSummary | null;
  rewardJudge: Record<string, number | string>;
  skippedUpdates: number;
  seconds: Record<string, number>;
  lines: string[];
  finishedAt: string;
}

export interface TrainResult {
  out: string;
  interrupted: boolean;
  summary: RunSummary | null;
}

export class TrainingInterrupted extends Error {
  constructor(readonly out: string) {
    super(`interrupted; continue with --resume --out ${out}`);
    this.name = 'TrainingInterrupted';
  }
}

interface Results {
  stage1?: AccuracySummary;
  vision?: VisionSummary;
  stage2?: AccuracySummary;
  evals: EvalRecord[];
  difficulty?: { histogram: Record<number, number>; hard: number; total: number };
  rlPool?: { size: number; fallback: boolean };
  skippedUpdates: number;
  rewardJudge?: Record<string, number | string>;
  voting?: VotingSummary;
}

function diffConfig(a: unknown, b: unknown, p = 'config'): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
    return keys.flatMap((k) => diffConfig((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${p}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${p}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`];
}

/**
 * The model's device for a requested one. The built-in model's CUDA path has not run on a GPU yet (README,
 * Status), so 'auto' keeps training on the CPU and only an explicit 'cuda' uses it.
 */
function modelDevice(requested: TrainConfig['device'], log: (m: string) => void): 'cpu' | 'cuda' {
  const cuda = backends().cuda;
  if (requested === 'cuda') {
    if (!cuda.usable) throw new Error(`--device cuda: CUDA is not usable here (${cuda.reason ?? 'no usable GPU'})`);
    log('note: --device cuda runs the built-in model\'s CUDA path, which has not been verified on a GPU yet (README, Status).');
    return 'cuda';
  }
  if (requested === 'auto' && cuda.usable) log('note: a GPU is usable, but the built-in model\'s CUDA path is not verified yet, so training runs on the CPU; --device cuda uses the GPU.');
  return 'cpu';
}

/** Runs (or resumes) training in `options.out`, holding the run folder's lock throughout (run-folder.ts). */
export async function train(options: TrainOptions): Promise<TrainResult> {
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
  const bar = (label: string, total: number): ProgressBar | null => {
    if (!options.progress) return null;
    const b = new ProgressBar({ total, label, stream: options.progress });
    return b;
  };
  const device = modelDevice(c.device, log);

  // ---- run folder and config (the folder's rules were checked by openRunFolder) ----
  const configFile = path.join(out, 'config.json');
  if (options.resume) {
    const stored = await readJson<TrainConfig>(configFile);
    const diff = diffConfig(stored, c).filter((d) => !d.startsWith('config.device'));
    if (diff.length) throw new Error(`--resume: the configuration differs from the run's config.json in ${out}:\n  ${diff.join('\n  ')}`);
  } else await writeJsonAtomic(configFile, c);

  const ckpt = options.resume ? await findLatestCheckpoint(out) : null;
  if (options.resume) log(ckpt ? `resuming ${out} from checkpoint ${ckpt.name} (phase ${ckpt.state.phase}, step ${ckpt.state.step})` : `resuming ${out}: no checkpoint yet, starting from the beginning`);
  const state: CheckpointState = ckpt
    ? ckpt.state
    : {
        version: CHECKPOINT_VERSION,
        phase: 'sft',
        step: 0,
        optimizerSteps: 0,
        rng: { seed: c.seed, scheme: 'derived(seed, purpose, step)', nextStep: 0 },
        curriculumStep: 0,
        metricsBytes: 0,
        metricsLines: 0,
        seconds: {},
        results: { evals: [], skippedUpdates: 0 },
        createdAt: new Date().toISOString(),
      };
  const results = state.results as unknown as Results;
  const addTime = (phase: string, sec: number) => (state.seconds[phase] = (state.seconds[phase] ?? 0) + sec);

  // ---- data ----
  let t = Date.now();
  const dataBar = c.data.dir === null ? bar('data', c.data.n) : null;
  dataBar?.start(0, c.data.n);
  // The tokenizer: a resumed run's is saved with its model; a new run learns it from the training rows.
  const tokenizerOf = (train: readonly TrainRow[]) => (ckpt ? Tokenizer.load(path.join(ckpt.dir, 'model')) : runTokenizer(c, train));
  const data: RunData = await prepareData(c, out, tokenizerOf, (done) => dataBar?.update(done));
  dataBar?.finish();
  const images = new ImageCache(data.dir, c.model.imageSize);
  await images.load([...data.train, ...data.test]);
  if (!ckpt) addTime('data', (Date.now() - t) / 1000);
  log(`data: ${data.train.length} train, ${data.test.length} test rows from ${data.dir}` + (data.dropped.train + data.dropped.test ? ` (${data.dropped.train + data.dropped.test} rows dropped: longer than the context)` : ''));

  const metrics = new MetricsLog(path.join(out, 'metrics.jsonl'), state.metricsBytes, state.metricsLines);
  let model: PolicyModel | null = null;
  let ref: PolicyModel | null = null;
  let opt: AdamW | null = null;
  try {
    if (ckpt) model = await PolicyModel.load(path.join(ckpt.dir, 'model'), { device });
    else {
      // The pixel statistics are stored in the model's config: inference normalises the same way.
      const norm = c.model.imageNorm === 'data' ? pixelStatistics(data.train.map((r) => images.get(r))) : null;
      model = PolicyModel.create(
        { ...modelConfigOf(c), ...(norm ? { imageMean: norm.mean, imageStd: norm.std } : {}) },
        { device, seed: c.model.initSeed ?? c.seed, tokenizer: data.tokenizer },
      );
    }
    if (!ckpt) {
      const tok = data.tokenizer.merges.length ? `${data.tokenizer.vocabSize} tokens (${data.tokenizer.merges.length} BPE merges)` : 'byte-level tokens';
      log(`model: ${model.numParameters.toLocaleString('en-US')} parameters (d ${c.model.dModel}, ${c.model.nLayers} layers, context ${c.model.maxSeqLen}, ${tok}) on ${model.device}`);
    }

    const checkpoint = async (name: string, phase: Phase, step: number, withOpt: boolean) => {
      metrics.sync();
      state.phase = phase;
      state.step = step;
      state.optimizerSteps = withOpt && opt ? opt.stepCount : 0;
      state.rng.nextStep = step;
      state.curriculumStep = phase === 'rl' ? step : 0;
      state.metricsBytes = metrics.bytes;
      state.metricsLines = metrics.lines;
      state.createdAt = new Date().toISOString();
      await saveCheckpoint(out, name, model!, withOpt ? opt : null, state);
    };
    const interrupted = () => options.signal?.aborted === true;
    const evalGreedy = async (tag: string): Promise<{ summary: AccuracySummary; outputs: GreedyOutput[] }> => {
      const b = bar(`eval ${tag}`, data.test.length);
      b?.start(0, data.test.length);
      const outputs = await greedyOutputs(model!, data.test, images, { batchSize: c.eval.batchSize, maxNewTokens: c.eval.maxNewTokens, onProgress: (d) => b?.update(d) });
      b?.finish();
      await writeJsonAtomic(path.join(out, 'evals', `${tag}.json`), outputs);
      return { summary: summarizeGreedy(outputs, c.eval.hardLevels), outputs };
    };

    // ---- stage 1: SFT ----
    const sftRows = data.train.filter((r) => typeof r.teacher === 'string' && r.teacher !== '');
    if (sftRows.length === 0 && c.sft.epochs > 0) throw new Error('stage 1 needs teacher analyses: no training row has a "teacher" field');
    const stepsPerEpoch = Math.ceil(sftRows.length / c.sft.batchSize);
    // Stage 1 = vision warm-up (caption steps) then the teacher analyses (with captions mixed in); one step count.
    const captionRows = data.train.filter((r) => r.scene !== undefined);
    // The warm-up's length: vision.steps, or fewer once the caption loss is below vision.untilLoss (then kept in
    // the checkpoint state, with the recent losses while it runs, so a resumed run ends it at the same step).
    let visionSteps = state.visionSteps ?? (captionRows.length > 0 ? c.vision.steps : 0);
    const visionLosses: number[] = state.visionLosses ?? [];
    const LOSS_WINDOW = 50;
    const captionsPerBatch = captionRows.length > 0 ? Math.round(c.vision.captionShare * c.sft.batchSize) : 0;
    // Then lookup steps: cells named out of caption order, after the task prompt.
    const lookupSteps = captionRows.length > 0 ? c.vision.lookupSteps : 0;
    const analysisSteps = c.sft.epochs * stepsPerEpoch;
    let sftTotal = visionSteps + lookupSteps + analysisSteps;
    // Captions, or with probability lookupShare cell lookups, of random training images. Warm-up captions follow
    // the short caption prompt (learnt fastest); the examples mixed into the analysis batches follow the row's
    // task prompt, the distance from the image at which the analysis reads it.
    const imageExamples = (purpose: string, step: number, n: number, afterTask: boolean, lookupShare = 0) => {
      const rng = Rng.derive(c.seed, purpose, step);
      return Array.from({ length: n }, () => {
        const row = captionRows[rng.int(captionRows.length)];
        return lookupShare > 0 && rng.chance(lookupShare) ? lookupExample(images, row, rng, afterTask) : captionExample(images, row, afterTask);
      });
    };
    if (state.phase === 'sft') {
      if (captionRows.length === 0 && (c.vision.steps > 0 || c.vision.lookupSteps > 0 || c.vision.captionShare > 0)) log('vision warm-up skipped: the training rows carry no scene to caption');
      if (visionSteps > 0 && state.visionSteps === undefined) {
        log(`stage 1 vision warm-up: ${c.vision.untilLoss !== null ? `up to ${visionSteps} caption steps of ${c.vision.batchSize}, until the caption loss is below ${c.vision.untilLoss}` : `${visionSteps} caption steps of ${c.vision.batchSize}`}`);
      }
      // Like the warm-up's line: said when the phase is still ahead, not again by a run resumed past it.
      if (lookupSteps > 0 && state.step < visionSteps + lookupSteps) log(`stage 1 lookup warm-up: ${lookupSteps} steps of ${c.vision.batchSize} cell lookups after the task prompt`);
      log(
        `stage 1 (SFT): ${sftRows.length} rows, ${c.sft.epochs} epoch(s), ${analysisSteps} steps of ${c.sft.batchSize}` +
          (captionsPerBatch > 0 ? ` + ${captionsPerBatch} caption(s)` : ''),
      );
      opt = new AdamW(model, { lr: c.sft.lr, weightDecay: c.sft.weightDecay, maxGradNorm: c.sft.maxGradNorm });
      if (ckpt && state.step > 0) await loadOptimizer(path.join(ckpt.dir, 'optimizer.safetensors'), opt, model, state.optimizerSteps);
      const b = bar('stage 1 SFT', sftTotal);
      b?.start(state.step, sftTotal);
      let permEpoch = -1;
      let perm: number[] = [];
      for (let step = state.step; step < sftTotal; step++) {
        if (interrupted()) {
          await checkpoint(`sft-${String(step).padStart(6, '0')}`, 'sft', step, true);
          b?.finish('interrupted');
          return { out, interrupted: true, summary: null };
        }
        t = Date.now();
        const vision = step < visionSteps;
        const lookup = !vision && step < visionSteps + lookupSteps;
        const s = step - visionSteps - lookupSteps; // step within the teacher-analysis part
        const epoch = vision || lookup ? 0 : Math.floor(s / stepsPerEpoch);
        let batch;
        if (vision) {
          // Constant after the warm-up of the rate: a decaying rate can stall the drop the warm-up waits for.
          opt.lr = cosineLr(step, visionSteps, c.vision.lr, c.vision.warmupSteps, 1);
          batch = imageExamples('vision', step, c.vision.batchSize, false);
        } else if (lookup) {
          opt.lr = c.vision.lr;
          batch = imageExamples('vision-lookup', step, c.vision.batchSize, true, 1);
        } else {
          if (epoch !== permEpoch) {
            perm = Rng.derive(c.seed, 'sft', epoch).shuffle(sftRows.map((_, i) => i));
            permEpoch = epoch;
          }
          const within = s % stepsPerEpoch;
          const rows = perm.slice(within * c.sft.batchSize, (within + 1) * c.sft.batchSize).map((i) => sftRows[i]);
          opt.lr = cosineLr(s, analysisSteps, c.sft.lr, c.sft.warmupSteps, c.sft.minLrRatio);
          batch = [...rows.map((row) => ({ ...images.input(row), response: row.teacher as string })), ...imageExamples('sft-captions', s, captionsPerBatch, true, c.vision.lookupShare)];
        }
        const r = await sftStep(model, opt, batch, c.debug.nonFiniteSteps.sft.includes(step + 1));
        if (r.skipped) {
          results.skippedUpdates++;
          log(`stage 1 step ${step + 1}: skipped (non-finite ${r.reason}); the weights were not updated`);
        }
        const line: StepLine = {
          stage: 'sft',
          step: step + 1,
          globalStep: step + 1,
          task: vision ? 'caption' : lookup ? 'lookup' : 'analysis',
          epoch: epoch + 1,
          loss: Number.isFinite(r.loss) ? r.loss : null,
          gradNorm: Number.isFinite(r.gradNorm) ? r.gradNorm : null,
          lr: opt.lr,
          tokens: r.tokens,
          skipped: r.skipped,
          skipReason: r.reason,
          seconds: 0,
        };
        if (step + 1 === sftTotal) {
          const e = await evalGreedy('stage1');
          results.stage1 = e.summary;
          results.evals.push({ tag: 'stage1', stage: 'sft', step: step + 1, globalStep: step + 1, summary: e.summary });
          line.eval = evalFields('stage1', e.summary);
          if (visionSteps > 0 || lookupSteps > 0 || captionsPerBatch > 0) {
            results.vision = await captionTest(model, data.test, images, { batchSize: c.eval.batchSize });
            line.captionCells = results.vision.cells;
          }
        }
        line.seconds = (Date.now() - t) / 1000;
        addTime('sft', line.seconds as number);
        metrics.append(line);
        options.onStep?.(line);
        b?.update(step + 1);
        if (vision && state.visionSteps === undefined) {
          if (Number.isFinite(r.loss)) visionLosses.push(r.loss);
          if (visionLosses.length > LOSS_WINDOW) visionLosses.shift();
          const mean = visionLosses.reduce((a, x) => a + x, 0) / Math.max(1, visionLosses.length);
          const reached = c.vision.untilLoss !== null && visionLosses.length === LOSS_WINDOW && mean < c.vision.untilLoss;
          if (reached || step + 1 === visionSteps) {
            state.visionSteps = visionSteps = step + 1;
            sftTotal = visionSteps + lookupSteps + analysisSteps;
            b?.start(step + 1, sftTotal);
            if (c.vision.untilLoss !== null) {
              log(
                reached
                  ? `stage 1 vision warm-up done after ${step + 1} steps: caption loss ${mean.toFixed(4)} (mean of the last ${LOSS_WINDOW}) < ${c.vision.untilLoss}`
                  : `stage 1 vision warm-up: the caption loss (${mean.toFixed(4)}) did not fall below ${c.vision.untilLoss} in ${step + 1} steps; the model may not read the images`,
              );
            }
          }
          state.visionLosses = state.visionSteps === undefined ? visionLosses : undefined;
        }
        if (step + 1 < sftTotal && (step + 1) % c.sft.checkpointEvery === 0) await checkpoint(`sft-${String(step + 1).padStart(6, '0')}`, 'sft', step + 1, true);
      }
      b?.finish();
      if (!results.stage1) {
        // No SFT steps: the stage-1 model is the initial model.
        t = Date.now();
        const e = await evalGreedy('stage1');
        results.stage1 = e.summary;
        results.evals.push({ tag: 'stage1', stage: 'sft', step: 0, globalStep: 0, summary: e.summary });
        addTime('sft', (Date.now() - t) / 1000);
      }
      log(`stage 1 done: test accuracy ${pctS(results.stage1.accuracy)}, hard subset ${pctS(results.stage1.hard.accuracy)} (n=${results.stage1.hard.n})`);
      if (results.vision) log(`stage 1 caption test: ${pctS(results.vision.cells)} of the test images' cells read right, ${pctS(results.vision.exact)} of the images entirely; single cells looked up by name ${pctS(results.vision.lookup)}`);
      await saveModelAtomic(model, path.join(out, 'stage1-model'));
      await checkpoint('stage1-end', 'difficulty', 0, false);
      opt.dispose();
      opt = null;
    }

    // ---- difficulty ----
    const difficultyFile = path.join(out, 'difficulty.json');
    if (state.phase === 'difficulty') {
      t = Date.now();
      const partialFile = path.join(out, 'difficulty.partial.json');
      const done: DifficultyChunk[] = fs.existsSync(partialFile) ? (await readJson<{ chunks: DifficultyChunk[] }>(partialFile)).chunks : [];
      const measured = difficultyRows(data.train, c);
      const parts = chunks(measured, c.difficulty.batchSize);
      log(
        `difficulty: up to ${c.difficulty.attempts} sampled attempts (temperature ${c.difficulty.temperature}) for ` +
          (measured.length === data.train.length ? `each of the ${measured.length} training samples` : `${measured.length} of the ${data.train.length} training samples (difficulty.limit)`),
      );
      const b = bar('difficulty', measured.length);
      b?.start(rowsIn(done), measured.length);
      const opts = { seed: c.seed, attempts: c.difficulty.attempts, temperature: c.difficulty.temperature, maxNewTokens: c.difficulty.maxNewTokens };
      if (!(await runChunks(parts.length, done, partialFile, (i) => difficultyChunk(model!, parts[i], images, { ...opts, chunk: i }), interrupted, b))) {
        addTime('difficulty', (Date.now() - t) / 1000);
        await checkpoint('stage1-end', 'difficulty', 0, false);
        b?.finish('interrupted');
        return { out, interrupted: true, summary: null };
      }
      b?.finish();
      const needed = done.flatMap((d) => d.rows).sort((a, b2) => a.index - b2.index);
      const histogram = difficultyHistogram(needed.map((r) => r.needed), c.difficulty.attempts);
      const hard = needed.filter((r) => isHard(r.needed, c.difficulty.hardThreshold)).length;
      results.difficulty = { histogram, hard, total: needed.length };
      await writeJsonAtomic(difficultyFile, { attempts: c.difficulty.attempts, hardThreshold: c.difficulty.hardThreshold, histogram, rows: needed });
      await fs.promises.rm(partialFile, { force: true });
      log(`difficulty: ${hard} of ${needed.length} training samples are hard (${Object.entries(histogram).map(([k, v]) => `${k}:${v}`).join(' ')}; ${c.difficulty.attempts + 1} = failed all)`);
      addTime('difficulty', (Date.now() - t) / 1000);
      await checkpoint('difficulty-end', 'rl', 0, false);
    }

    // ---- stage 2: RL ----
    if (state.phase === 'rl') {
      const eff = effectiveRl(c.rl);
      const diff = await readJson<{ rows: { index: number; needed: number }[] }>(difficultyFile);
      const neededOf = new Map(diff.rows.map((r) => [r.index, r.needed]));
      const measured = data.train.filter((r) => neededOf.has(r.index));
      const hardRows = measured.filter((r) => isHard(neededOf.get(r.index)!, c.difficulty.hardThreshold));
      let pool: TrainRow[] = c.rl.pool === 'hard' ? hardRows : measured;
      const fallback = pool.length === 0;
      if (fallback) pool = measured;
      if (c.rl.swapAugment) pool = withSwapped(pool);
      results.rlPool = { size: pool.length, fallback };
      const schedule = parseSchedule(c.rl.curriculum);
      const curriculum = new Curriculum(
        pool.map((r) => ({ level: r.difficulty, hardness: neededOf.get(r.index) })),
        { schedule, totalSteps: Math.max(1, c.rl.steps), batchSize: c.rl.promptsPerStep, seed: c.seed },
      );
      const settings: RlSettings = {
        algo: c.rl.algo,
        samplesPerPrompt: c.rl.samplesPerPrompt,
        ppoEpochs: c.rl.ppoEpochs,
        miniBatchSize: c.rl.miniBatchSize,
        temperature: c.rl.temperature,
        maxNewTokens: c.rl.maxNewTokens,
        preClip: eff.preClip,
        minRatio: c.rl.minRatio,
        maxRatio: c.rl.maxRatio,
        clipEps: c.rl.clipEps,
        filter: eff.filter,
        filterSigma: c.rl.filterSigma,
        filterRule: c.rl.filterRule,
        consistency: eff.consistency,
        weights: c.rl.rewardWeights,
        klCoef: c.rl.klCoef,
        klEstimator: c.rl.klEstimator,
        trackRefKl: c.rl.trackRefKl,
      };
      if (c.rl.steps > 0) {
        log(
          `stage 2 (${c.rl.algo}; Pre-CLIP ${onOff(eff.preClip)}, Advantage Filter ${onOff(eff.filter)}, consistency reward ${onOff(eff.consistency)}): ` +
            `${c.rl.steps} steps of ${c.rl.promptsPerStep} prompts x ${c.rl.samplesPerPrompt} samples from ${pool.length} ${fallback ? 'training (no hard ones)' : c.rl.pool} samples` +
            `${c.rl.swapAugment ? ' (each in both response orders)' : ''}` +
            `${fallback ? '' : `; curriculum ${c.rl.curriculum}`}`,
        );
      }
      if (c.rl.klCoef > 0 || c.rl.trackRefKl) ref = await PolicyModel.load(path.join(out, 'stage1-model'), { device });
      opt = new AdamW(model, { lr: c.rl.lr, weightDecay: c.rl.weightDecay, maxGradNorm: c.rl.maxGradNorm });
      if (ckpt && ckpt.state.phase === 'rl' && state.step > 0) await loadOptimizer(path.join(ckpt.dir, 'optimizer.safetensors'), opt, model, state.optimizerSteps);
      // Judge counters continue across resumes (they are part of the checkpointed results).
      const rewardStats = Object.assign(createRewardStats(), results.rewardJudge ?? {});
      const judge = new RuleBasedJudge();
      const ctx = { model, ref, opt, judge, rewardStats, settings, seed: c.seed, input: (r: TrainRow) => images.input(r) };
      const b = bar('stage 2 RL', c.rl.steps);
      b?.start(state.step, c.rl.steps);
      for (let step = state.step; step < c.rl.steps; step++) {
        if (interrupted()) {
          await checkpoint(`rl-${String(step).padStart(6, '0')}`, 'rl', step, true);
          b?.finish('interrupted');
          return { out, interrupted: true, summary: null };
        }
        t = Date.now();
        opt.lr = c.rl.warmupSteps > 0 && step < c.rl.warmupSteps ? (c.rl.lr * (step + 1)) / c.rl.warmupSteps : c.rl.lr;
        const phase = curriculum.phaseAt(step);
        const rows = curriculum.batch(step).map((i) => pool[i]);
        const m = await rlStep(ctx, step, rows, c.debug.nonFiniteSteps.rl.includes(step + 1));
        results.skippedUpdates += m.skippedUpdates;
        results.rewardJudge = { ...rewardStats } as Record<string, number | string>;
        if (m.skippedUpdates) log(`stage 2 step ${step + 1}: ${m.skippedUpdates} of ${m.updates} update(s) skipped (non-finite ${m.skipReasons.join(', ')}); the weights were not updated by them`);
        const line: StepLine = { stage: 'rl', step: step + 1, globalStep: sftTotal + step + 1, ...m, lr: opt.lr, curriculumPhase: phase.phase, poolSize: phase.pool.length, seconds: 0 };
        if ((step + 1) % c.rl.evalEvery === 0 || step + 1 === c.rl.steps) {
          const tag = step + 1 === c.rl.steps ? 'stage2' : `rl-${step + 1}`;
          const e = await evalGreedy(tag);
          results.evals.push({ tag, stage: 'rl', step: step + 1, globalStep: sftTotal + step + 1, summary: e.summary });
          if (tag === 'stage2') results.stage2 = e.summary;
          line.eval = evalFields(tag, e.summary);
        }
        line.seconds = (Date.now() - t) / 1000;
        addTime('rl', line.seconds as number);
        metrics.append(line);
        options.onStep?.(line);
        b?.update(step + 1);
        if (step + 1 < c.rl.steps && (step + 1) % c.rl.checkpointEvery === 0) await checkpoint(`rl-${String(step + 1).padStart(6, '0')}`, 'rl', step + 1, true);
      }
      b?.finish();
      if (c.rl.steps > 0) log(`stage 2 done: test accuracy ${pctS(results.stage2!.accuracy)}, hard subset ${pctS(results.stage2!.hard.accuracy)}`);
      await saveModelAtomic(model, path.join(out, 'model'));
      await checkpoint('rl-end', 'final', 0, false);
      opt.dispose();
      opt = null;
    }

    // ---- final: Voting@K, summary, report ----
    if (state.phase === 'final') {
      t = Date.now();
      let voting: VotingSummary | null = null;
      if (c.eval.votingK > 0) {
        const rows = c.eval.votingLimit === null ? data.test : data.test.slice(0, c.eval.votingLimit);
        const partialFile = path.join(out, 'voting.partial.json');
        const done: VotingChunk[] = fs.existsSync(partialFile) ? (await readJson<{ chunks: VotingChunk[] }>(partialFile)).chunks : [];
        const per = Math.max(1, Math.round((2 * c.eval.batchSize) / c.eval.votingK));
        const parts = chunks(rows, per);
        log(`Voting@${c.eval.votingK}: ${c.eval.votingK} samples at temperature ${c.eval.votingTemperature} for each of ${rows.length} test samples`);
        const b = bar(`voting@${c.eval.votingK}`, rows.length);
        b?.start(rowsIn(done), rows.length);
        const opts = { seed: c.seed, k: c.eval.votingK, temperature: c.eval.votingTemperature, maxNewTokens: c.eval.maxNewTokens };
        if (!(await runChunks(parts.length, done, partialFile, (i) => votingChunk(model!, parts[i], images, { ...opts, chunk: i }), interrupted, b))) {
          addTime('final', (Date.now() - t) / 1000);
          await checkpoint('rl-end', 'final', 0, false);
          b?.finish('interrupted');
          return { out, interrupted: true, summary: null };
        }
        b?.finish();
        voting = summarizeVoting(done.sort((a, b2) => a.chunk - b2.chunk), c.eval.votingK, c.eval.hardLevels);
        await writeJsonAtomic(path.join(out, 'voting.json'), { ...voting, rows: done.flatMap((d) => d.rows) });
        await fs.promises.rm(partialFile, { force: true });
      }
      results.voting = voting ?? undefined;
      addTime('final', (Date.now() - t) / 1000);

      const stage1 = results.stage1!;
      const stage2 = c.rl.steps > 0 ? results.stage2 ?? null : null;
      const before = stage2 ? await readJson<GreedyOutput[]>(path.join(out, 'evals', 'stage1.json')) : [];
      const after = stage2 ? await readJson<GreedyOutput[]>(path.join(out, 'evals', 'stage2.json')) : [];
      const hardOf = (xs: GreedyOutput[]) => xs.filter((o) => o.level !== null && c.eval.hardLevels.includes(o.level));
      const change = stage2 ? { overall: pairedChange(before, after), hard: pairedChange(hardOf(before), hardOf(after)) } : { overall: null, hard: null };
      const eff = effectiveRl(c.rl);
      const lines = summaryLines({
        stage1,
        vision: results.vision ?? null,
        stage2,
        overall: change.overall,
        hard: change.hard,
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
        switches: eff,
        device: { requested: c.device, model: model.device },
        data: { dir: data.dir, train: data.train.length, test: data.test.length, dropped: data.dropped },
        sftSteps: sftTotal,
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
      if (options.report !== false) {
        const { writeReport } = await import('../report/report');
        await writeReport([out], { out: path.join(out, 'report.html'), png: path.join(out, 'plots') });
      }
      await checkpoint('done', 'done', 0, false);
      return { out, interrupted: false, summary };
    }
    if (state.phase === 'done') {
      log(`${out}: this run is already complete`);
      return { out, interrupted: false, summary: await readJson<RunSummary>(path.join(out, 'summary.json')) };
    }
    throw new Error(`unknown phase ${state.phase} in the checkpoint`);
  } finally {
    metrics.close();
    opt?.dispose();
    ref?.dispose();
    model?.dispose();
  }
}

/** The training rows whose difficulty is measured: all, or a seeded subset of difficulty.limit (in split order). */
function difficultyRows(train: TrainRow[], c: TrainConfig): TrainRow[] {
  if (c.difficulty.limit === null || c.difficulty.limit >= train.length) return train;
  const pick = new Set(Rng.derive(c.seed, 'difficulty-subset').shuffle(train.map((_, i) => i)).slice(0, c.difficulty.limit));
  return train.filter((_, i) => pick.has(i));
}

const rowsIn = (chunks: readonly { rows: readonly unknown[] }[]) => chunks.reduce((a, d) => a + d.rows.length, 0);

/**
 * The chunks 0..n-1 of a resumable phase (difficulty, Voting@K) that `done` lacks, in order, saving `done` to
 * `partialFile` after each. Returns false, before starting a chunk, when `interrupted()` says so.
 */
async function runChunks<C extends { chunk: number; rows: readonly unknown[] }>(
  n: number,
  done: C[],
  partialFile: string,
  work: (chunk: number) => Promise<C>,
  interrupted: () => boolean,
  b: ProgressBar | null,
): Promise<boolean> {
  for (let i = 0; i < n; i++) {
    if (done.some((d) => d.chunk === i)) continue;
    if (interrupted()) return false;
    done.push(await work(i));
    await writeJsonAtomic(partialFile, { chunks: done });
    b?.update(rowsIn(done));
  }
  return true;
}

function evalFields(tag: string, s: AccuracySummary): Record<string, unknown> {
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

const pctS = (x: number) => `${(100 * x).toFixed(1)}%`;
const onOff = (b: boolean) => (b ? 'on' : 'off');
