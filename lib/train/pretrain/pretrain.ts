/**
 * Pretraining of the built-in backbone (`stable-reinforce pretrain`, `npm run pretrain`): the tasks of tasks.ts,
 * freshly drawn every step, on a new model with its own BPE tokenizer; skill probes on a fixed held-out set every
 * `probeEvery` steps (OUT/skills.jsonl); a checkpoint every `checkpointEvery` steps (OUT/checkpoint: model,
 * AdamW moments, state), from which `--resume` continues exactly (every batch is a function of (seed, step)).
 * export.ts turns a checkpoint into the shipped backbone.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../../data/rng';
import { synthesize, type SynthOptions } from '../../data/synth';
import type { SynthSample } from '../../data/generate';
import { backboneMismatch } from '../../model/backbone';
import { pixelStatistics } from '../../model/image';
import { AdamW } from '../../model/adamw';
import { PolicyModel, type ModelConfigInput } from '../../model';
import { Tokenizer, trainBpe } from '../../model/tokenizer';
import { CAPTION_PROMPT } from '../../data/scene';
import { promptOf } from '../../eval/prompt';
import { loadOptimizer, readJson, saveOptimizer, writeJsonAtomic } from '../checkpoint';
import { DEFAULTS } from '../config';
import { PRESETS } from '../presets';
import { acquireLock, cleanStaleTemps } from '../run-folder';
import { cosineLr, sftStep } from '../update';
import {
  CHECK_PROMPT,
  EVIDENCE_PROMPT,
  PRETRAIN_TASKS,
  type PretrainExample,
  type PretrainTask,
  type TaskContext,
  probeSet,
  pretrainSample,
  taskExample,
  trainBatch,
} from './tasks';

export interface PretrainConfig {
  seed: number;
  /** Steps of the whole run (the learning-rate schedule spans them); a run may stop earlier and resume. */
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  checkpointEvery: number;
  probeEvery: number;
  probePerTask: number;
  bpeMerges: number;
  grid: number;
  levels: (1 | 2 | 3 | 4)[];
  model: ModelConfigInput;
  /**
   * A model folder (a pretraining checkpoint's model/ or an exported backbone) whose weights, tokenizer and pixel
   * statistics a new run starts from, instead of random weights and a new tokenizer: continued pretraining, e.g.
   * after a task changed. Its shape must be `model`'s. null: a new model.
   */
  init: string | null;
}

/** The shipped backbone's recipe. The model is the demo's size, one layer deeper for the chained lookups. */
export const PRETRAIN_DEFAULTS: Readonly<PretrainConfig> = Object.freeze<PretrainConfig>({
  seed: 0,
  steps: 30000,
  batchSize: 16,
  lr: 2e-3,
  warmupSteps: 200,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1,
  checkpointEvery: 250,
  probeEvery: 1000,
  probePerTask: 40,
  bpeMerges: DEFAULTS.model.bpeMerges,
  grid: DEFAULTS.data.grid,
  levels: [1, 2, 3, 4],
  model: {
    dModel: 128,
    nLayers: 6,
    nHeads: 4,
    dFF: 352,
    imageSize: DEFAULTS.model.imageSize,
    patchSize: DEFAULTS.model.patchSize,
    // Room for the demo's caption-first analyses (prompt ~90 + analysis ~160 tokens); RoPE has no learnt positions.
    maxSeqLen: 384,
    imagePositions: 'before-response',
  },
  init: null,
});

/** Where a continued run started: the init folder and, when known, the run that made it (for the model card). */
export interface InitRecord {
  dir: string;
  /** The earlier run's settings, steps, wall time and last probe figures (on that run's task definitions). */
  run: { config: PretrainConfig; step: number; seconds: number; skills: SkillFigures | null } | null;
  /** Where the earlier run started, when it was itself a continued run. */
  before: InitRecord | null;
}

/** The record of an init folder: an exported backbone (skills.json) or a run's checkpoint/model (../state.json). */
export async function initRecord(dir: string): Promise<InitRecord> {
  const exported = path.join(dir, 'skills.json');
  if (fs.existsSync(exported)) {
    const j = await readJson<{ config: PretrainConfig; step: number; seconds: number; final: SkillFigures | null; init?: InitRecord | null }>(exported);
    return { dir, run: { config: j.config, step: j.step, seconds: j.seconds, skills: j.final }, before: j.init ?? null };
  }
  const state = path.join(dir, '..', 'state.json');
  const runDir = path.join(dir, '..', '..');
  if (fs.existsSync(state) && fs.existsSync(path.join(runDir, 'config.json'))) {
    const st = await readJson<PretrainState>(state);
    const before = path.join(runDir, 'init.json');
    return {
      dir,
      run: { config: await readJson<PretrainConfig>(path.join(runDir, 'config.json')), step: st.step, seconds: st.seconds, skills: st.skills },
      before: fs.existsSync(before) ? await readJson<InitRecord>(before) : null,
    };
  }
  return { dir, run: null, before: null };
}

/** The init folder's model, checked against the run's model settings. */
async function initialModel(c: PretrainConfig): Promise<PolicyModel> {
  const dir = c.init!;
  const model = await PolicyModel.load(dir);
  const got = model.config as unknown as Record<string, unknown>;
  const want = c.model as unknown as Record<string, unknown>;
  const differ = backboneMismatch(model.config, c.model);
  if (differ.length > 0) {
    model.dispose();
    throw new Error(
      `--init ${dir} does not match the run's model: ${differ.map((k) => `${k} ${JSON.stringify(got[k])} (run: ${JSON.stringify(want[k])})`).join(', ')}`,
    );
  }
  return model;
}

export interface PretrainState {
  step: number;
  seconds: number;
  /** The last probe's figures. */
  skills: SkillFigures | null;
}

export type SkillFigures = Record<PretrainTask, { exact: number; lines: number }> & { step: number };

export interface PretrainOptions {
  out: string;
  resume?: boolean;
  /** Stop after this many steps of this call (the schedule still spans config.steps). */
  stopAfter?: number;
  config?: Partial<PretrainConfig>;
  log?: (message: string) => void;
  /** Test splits whose rows are never drawn (default DEMO_TEST_SPLITS). */
  excludeSplits?: readonly SynthOptions[];
  /** Checked between steps: true stops after a checkpoint. */
  shouldStop?: () => boolean;
}

const taskContext = (c: PretrainConfig): TaskContext => ({ seed: c.seed, grid: c.grid, imageSize: c.model.imageSize, levels: c.levels });

/** Every text a pretraining or judging run reads or writes, for the tokenizer. */
function* tokenizerTexts(c: PretrainConfig): Generator<string> {
  const ctx = taskContext(c);
  yield CAPTION_PROMPT;
  yield EVIDENCE_PROMPT;
  yield CHECK_PROMPT;
  const r = new Rng(`${c.seed}-tokenizer`);
  for (let i = 0; i < 3000; i++) {
    const s = pretrainSample(ctx, 'tokenizer', i);
    yield promptOf(s);
    yield s.teacher;
    const ex = taskExample(PRETRAIN_TASKS[i % PRETRAIN_TASKS.length], s, r, 8);
    yield ex.prompt;
    yield ex.response;
  }
}

/** The synthetic datasets whose test rows pretraining must not draw: the demo's (`npm start`, `bench:train`) for seeds 0-2. */
export const DEMO_TEST_SPLITS: readonly SynthOptions[] = [0, 1, 2].map((seed) => ({
  n: PRESETS.demo.data!.n!,
  seed,
  testFraction: PRESETS.demo.data!.testFraction!,
  levels: DEFAULTS.data.levels as (1 | 2 | 3 | 4)[],
}));

/** (scene, question) keys of the test rows of these datasets. */
export function testSplitKeys(splits: readonly SynthOptions[]): Set<string> {
  const keys = new Set<string>();
  for (const o of splits) for (const row of synthesize(o).test) keys.add(sampleKey(row.scene, row.question));
  return keys;
}

export const sampleKey = (scene: unknown, question: string) => `${JSON.stringify(scene)}|${question}`;

async function saveCheckpoint(out: string, model: PolicyModel, opt: AdamW, state: PretrainState): Promise<void> {
  const dir = path.join(out, 'checkpoint');
  const tmp = path.join(out, `.checkpoint.tmp-${process.pid}`);
  await fs.promises.rm(tmp, { recursive: true, force: true });
  await fs.promises.mkdir(tmp, { recursive: true });
  await model.save(path.join(tmp, 'model'));
  await saveOptimizer(path.join(tmp, 'optimizer.safetensors'), opt);
  await writeJsonAtomic(path.join(tmp, 'state.json'), state);
  const old = path.join(out, `.checkpoint.old-${process.pid}`);
  if (fs.existsSync(dir)) await fs.promises.rename(dir, old);
  await fs.promises.rename(tmp, dir);
  await fs.promises.rm(old, { recursive: true, force: true });
}

/** Greedy outputs of the probe set, scored per task: exact answers and lines right (in place). */
export async function probeSkills(model: PolicyModel, probes: readonly PretrainExample[], step: number): Promise<SkillFigures> {
  const figures = { step } as SkillFigures;
  for (const task of PRETRAIN_TASKS) {
    const exs = probes.filter((p) => p.task === task);
    const maxNewTokens = Math.max(...exs.map((e) => model.tokenizer.encode(e.response).length)) + 4;
    let exact = 0;
    let right = 0;
    let lines = 0;
    for (let i = 0; i < exs.length; i += 32) {
      const chunk = exs.slice(i, i + 32);
      const out = await model.generate(chunk, { maxNewTokens, temperature: 0 });
      out.forEach(([g], k) => {
        const got = g.text.trim();
        const want = chunk[k].response;
        exact += Number(got === want);
        const w = want.split('\n');
        const gl = got.split('\n');
        right += w.filter((line, j) => gl[j] === line).length;
        lines += w.length;
      });
    }
    figures[task] = { exact: exact / exs.length, lines: lines ? right / lines : 0 };
  }
  return figures;
}

export interface PretrainResult {
  state: PretrainState;
  out: string;
}

export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const out = path.resolve(options.out);
  const log = options.log ?? (() => {});
  const configFile = path.join(out, 'config.json');
  const resume = options.resume === true && fs.existsSync(configFile);
  if (!resume && fs.existsSync(out) && fs.readdirSync(out).filter((f) => f !== 'run.lock').length > 0)
    throw new Error(`${out} is not empty: continue it with --resume, or choose another --out`);
  const init = resume ? null : (options.config?.init ?? null);
  if (init !== null && !fs.existsSync(path.join(init, 'config.json'))) throw new Error(`--init ${init} is not a model folder (it has no config.json)`);
  fs.mkdirSync(out, { recursive: true });
  const lock = acquireLock(out);
  try {
    cleanStaleTemps(out);
    // Defaults first: a run folder written before a setting existed reads it as its default.
    const c: PretrainConfig = { ...PRETRAIN_DEFAULTS, ...(resume ? await readJson<PretrainConfig>(configFile) : options.config) };
    const ctx = taskContext(c);
    let model: PolicyModel;
    let state: PretrainState;
    const ckpt = path.join(out, 'checkpoint');
    const resumed = resume && fs.existsSync(path.join(ckpt, 'state.json'));
    if (resumed) {
      model = await PolicyModel.load(path.join(ckpt, 'model'));
      state = await readJson<PretrainState>(path.join(ckpt, 'state.json'));
      log(`pretrain: resumed at step ${state.step} of ${c.steps} from ${ckpt}`);
    } else if (c.init !== null) {
      model = await initialModel(c);
      state = { step: 0, seconds: 0, skills: null };
      await writeJsonAtomic(path.join(out, 'init.json'), await initRecord(c.init));
      await writeJsonAtomic(configFile, c);
      log(`pretrain: new run from ${c.init}, ${model.numParameters.toLocaleString('en-US')} parameters, ${c.steps} steps of ${c.batchSize} at lr ${c.lr}`);
    } else {
      const t0 = Date.now();
      const tokenizer = c.bpeMerges > 0 ? trainBpe(tokenizerTexts(c), { merges: c.bpeMerges }) : new Tokenizer();
      // The pixel statistics of the pretraining images, stored in the model's config (inference uses them).
      const imgs = Array.from({ length: 256 }, (_, i) => taskExample('caption', pretrainSample(ctx, 'pixels', i), new Rng(i), c.model.imageSize).image!);
      const norm = pixelStatistics(imgs);
      model = PolicyModel.create({ ...c.model, imageMean: norm.mean, imageStd: norm.std }, { seed: c.seed, tokenizer });
      state = { step: 0, seconds: (Date.now() - t0) / 1000, skills: null };
      await writeJsonAtomic(configFile, c);
      log(`pretrain: new run, ${model.numParameters.toLocaleString('en-US')} parameters, ${tokenizer.vocabSize} tokens, ${c.steps} steps of ${c.batchSize}`);
    }
    const opt = new AdamW(model, { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm, betas: [0.9, 0.95] });
    if (resumed) await loadOptimizer(path.join(ckpt, 'optimizer.safetensors'), opt, model, state.step);
    const excluded = testSplitKeys(options.excludeSplits ?? DEMO_TEST_SPLITS);
    const skip = (s: SynthSample) => excluded.has(sampleKey(s.scene, s.question));
    const probes = probeSet(ctx, c.probePerTask);
    const skillsFile = path.join(out, 'skills.jsonl');
    const end = Math.min(c.steps, options.stopAfter !== undefined ? state.step + options.stopAfter : c.steps);
    let t = Date.now();
    let lossSum = 0;
    let n = 0;
    while (state.step < end) {
      opt.lr = cosineLr(state.step, c.steps, c.lr, c.warmupSteps, c.minLrRatio);
      const r = await sftStep(model, opt, trainBatch(ctx, state.step, c.batchSize, skip));
      if (Number.isFinite(r.loss)) {
        lossSum += r.loss;
        n++;
      }
      state.step++;
      const now = Date.now();
      state.seconds += (now - t) / 1000;
      t = now;
      if (state.step % c.probeEvery === 0 || state.step === c.steps) {
        state.skills = await probeSkills(model, probes, state.step);
        const line = { step: state.step, loss: n ? lossSum / n : null, lr: opt.lr, seconds: Math.round(state.seconds), skills: state.skills };
        fs.appendFileSync(skillsFile, JSON.stringify(line) + '\n');
        log(
          `pretrain step ${state.step}: loss ${line.loss?.toFixed(4)}, ` +
            PRETRAIN_TASKS.map((k) => `${k} ${(100 * state.skills![k].exact).toFixed(0)}%/${(100 * state.skills![k].lines).toFixed(0)}%`).join(', '),
        );
        lossSum = 0;
        n = 0;
        t = Date.now();
      }
      const stop = options.shouldStop?.() === true;
      if (state.step % c.checkpointEvery === 0 || state.step === end || stop) {
        await saveCheckpoint(out, model, opt, state);
        if (stop) break;
      }
    }
    model.dispose();
    return { state, out };
  } finally {
    lock.release();
  }
}
