/**
 * Training configuration: presets, JSON overrides, validation.
 *
 * A run's configuration is a preset (`smoke`, `demo`) deep-merged with an
 * optional JSON object (`--config file`) and then with command-line flags.
 * Every field is checked; an error names the field by its path
 * (`config.rl.lr must be a number > 0, got -1`), and unknown keys are errors
 * (a typo never silently falls back to a default).
 */
import { CATEGORIES } from '../data/questions';
import { shown } from '../internal/validate';
import { resolveConfig, type ModelConfigInput } from '../model/config';
import { VOCAB_SIZE } from '../model/tokenizer';
import { parseSchedule } from './curriculum';

export const ALGOS = ['stable-reinforce', 'reinforce++', 'grpo'] as const;
export type Algo = (typeof ALGOS)[number];
export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export type TrainDevice = (typeof DEVICES)[number];

export interface DataConfig {
  /** An existing dataset folder (DIR/train.jsonl, DIR/test.jsonl, images); null: synthesise into OUT/data. */
  dir: string | null;
  /** Synthetic data: total samples (train + test), test share, levels, image side, grid side. */
  n: number;
  testFraction: number;
  levels: number[];
  imageSize: number;
  grid: number;
  /** Question categories to draw (null: all five). */
  categories: string[] | null;
  /** Seed of the synthetic data; null: the run's seed. */
  seed: number | null;
  /** Use at most this many rows of a split (null: all). */
  maxTrain: number | null;
  maxTest: number | null;
}

export interface ModelSection {
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number | null;
  dFF: number;
  /** The model's input image side (images are resized to it). */
  imageSize: number;
  patchSize: number;
  maxSeqLen: number;
  /** Parameter initialisation seed; null: the run's seed. */
  initSeed: number | null;
  /**
   * Pixel normalisation stored in the model: 'data' = per-channel mean and std of the training images (a
   * model trained from scratch on dark-background images does not learn to see without it), 'unit' = [-1, 1].
   */
  imageNorm: 'data' | 'unit';
  /**
   * Rotary positions of the image tokens (model config imagePositions). 'before-response' puts the image next to
   * the response in position space, so what is learnt on short caption prompts holds after a long task prompt
   * (the demo uses it); it slows the short warm-up captions, so the general default stays 'first'
   * (docs/research/image-blindness.md).
   */
  imagePositions: 'first' | 'before-response' | 'shared';
  /**
   * Byte-pair merges learnt from the training texts (prompts, teacher analyses, captions) before stage 1; the
   * tokenizer is saved with the model. 0: byte level. Fewer tokens per text make every step cheaper and let one
   * attention lookup match a whole word (docs/research/image-blindness.md).
   */
  bpeMerges: number;
}

/**
 * Vision warm-up at the start of stage 1: the built-in model starts from random weights, where R1-Reward
 * starts from a pretrained vision-language model, so it first learns to read the images by captioning
 * them (data/scene.ts sceneCaption; needs rows with a scene, i.e. the synthetic data).
 */
export interface VisionConfig {
  /** Caption-only steps before the teacher analyses (0: none); with untilLoss, the most. */
  steps: number;
  /**
   * End the warm-up early once the mean caption loss of the last 50 steps is below this (null: always run
   * `steps`). The model learns to read the images in a sudden drop of the loss whose step varies from run to run
   * (~600 to over 1,000 steps of 8); stopping on the loss makes the warm-up as long as that run needs.
   */
  untilLoss: number | null;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Captions added to every batch of teacher analyses, as a share of sft.batchSize (keeps the skill). */
  captionShare: number;
  /**
   * Share of those added examples that are cell lookups (data/scene.ts lookupPrompt: "Describe the X, Y cells."
   * -> their caption lines) instead of whole captions. A caption lists the cells in a fixed order, a lookup names
   * them in any order: it teaches reading the cell a question names, which the evidence lines need.
   */
  lookupShare: number;
  /** Steps of cell lookups (after the task prompt, batchSize, lr) between the caption warm-up and the analyses. */
  lookupSteps: number;
}

export interface SftConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  /** The learning rate decays (cosine) from lr to lr * minLrRatio. */
  minLrRatio: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  checkpointEvery: number;
}

export interface DifficultyConfig {
  /** Sampled attempts per training sample (the paper: 3). */
  attempts: number;
  temperature: number;
  maxNewTokens: number;
  /** Prompts generated at once. */
  batchSize: number;
  /** Hard = attempts needed >= this (the paper: 2), failed-all included. */
  hardThreshold: number;
  /**
   * Measure the difficulty of at most this many training samples (a seeded random subset; null: all, as the
   * paper does). Only measured samples can enter stage 2. A time-budget knob: sampling 3 attempts for every
   * training sample costs more than the rest of a small run.
   */
  limit: number | null;
}

export interface RlConfig {
  algo: Algo;
  steps: number;
  /** Prompts per rollout batch; each is sampled samplesPerPrompt times. */
  promptsPerStep: number;
  samplesPerPrompt: number;
  /** Passes over each rollout batch, in minibatches of miniBatchSize sequences (one AdamW step each). */
  ppoEpochs: number;
  miniBatchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  temperature: number;
  maxNewTokens: number;
  /** null: what the algorithm implies (on for stable-reinforce, off for the baselines). */
  preClip: boolean | null;
  minRatio: number;
  maxRatio: number;
  clipEps: number;
  filter: boolean | null;
  filterSigma: number;
  filterRule: 'paper' | 'released-code';
  consistency: boolean | null;
  /** R = Result * (1 + consistency * C) + format * F. */
  rewardWeights: { consistency: number; format: number };
  /** KL penalty against the frozen stage-1 model (the paper: 0). */
  klCoef: number;
  klEstimator: 'k1' | 'k2' | 'k3';
  /** Measure the KL to the stage-1 model even when klCoef is 0 (one extra forward pass per step). */
  trackRefKl: boolean;
  /** RL samples: 'hard' (the paper: needed >= 2 attempts or failed all) or 'all'. */
  pool: 'hard' | 'all';
  /**
   * Add every pool sample with its two responses exchanged (label flipped). The data is balanced 1:1 in
   * answer position, but picking the samples a position-biased stage-1 model gets wrong is not; without
   * this, stage 2 can raise its reward by moving the bias to the other position instead of judging better.
   */
  swapAugment: boolean;
  /** Curriculum schedule text (see curriculum.ts parseSchedule), e.g. "linear:hardness" or "none". */
  curriculum: string;
  checkpointEvery: number;
  /** Greedy test accuracy every this many RL steps (and at the end). */
  evalEvery: number;
}

export interface EvalConfig {
  batchSize: number;
  maxNewTokens: number;
  /** Voting@K at the end: K samples per test pair at votingTemperature (0: no voting). */
  votingK: number;
  votingTemperature: number;
  /**
   * Test samples counted as "hard": their generator level is in this list. The generator's level is used
   * rather than the stage-1 model's attempts: a subset chosen by the stage-1 model's own failures would
   * improve after any change of the model (regression to the mean), which would flatter stage 2.
   */
  hardLevels: number[];
  /** Use at most this many test rows for the Voting@K pass (null: all). */
  votingLimit: number | null;
}

export interface DebugConfig {
  /** Steps whose gradient is replaced by NaN, to exercise the non-finite guard (tests). */
  nonFiniteSteps: { sft: number[]; rl: number[] };
}

export interface TrainConfig {
  preset: string;
  seed: number;
  device: TrainDevice;
  data: DataConfig;
  model: ModelSection;
  vision: VisionConfig;
  sft: SftConfig;
  difficulty: DifficultyConfig;
  rl: RlConfig;
  eval: EvalConfig;
  debug: DebugConfig;
}

/** The switches an algorithm implies; explicit booleans in the config win. */
export function algoDefaults(algo: Algo): { preClip: boolean; filter: boolean; consistency: boolean } {
  return algo === 'stable-reinforce' ? { preClip: true, filter: true, consistency: true } : { preClip: false, filter: false, consistency: false };
}

export interface EffectiveRl {
  preClip: boolean;
  filter: boolean;
  consistency: boolean;
}

export function effectiveRl(rl: RlConfig): EffectiveRl {
  const d = algoDefaults(rl.algo);
  return { preClip: rl.preClip ?? d.preClip, filter: rl.filter ?? d.filter, consistency: rl.consistency ?? d.consistency };
}

const BASE: Omit<TrainConfig, 'preset'> = {
  seed: 0,
  device: 'auto',
  data: { dir: null, n: 600, testFraction: 0.2, levels: [1, 2, 3, 4], imageSize: 48, grid: 3, categories: null, seed: null, maxTrain: null, maxTest: null },
  model: { dModel: 128, nLayers: 4, nHeads: 4, nKvHeads: null, dFF: 352, imageSize: 48, patchSize: 16, maxSeqLen: 512, initSeed: null, imageNorm: 'data', imagePositions: 'first', bpeMerges: 1024 },
  vision: { steps: 0, untilLoss: null, batchSize: 8, lr: 3e-3, warmupSteps: 10, captionShare: 0, lookupShare: 0, lookupSteps: 0 },
  sft: { epochs: 3, batchSize: 16, lr: 2e-3, minLrRatio: 0.1, warmupSteps: 10, weightDecay: 0.01, maxGradNorm: 1, checkpointEvery: 20 },
  difficulty: { attempts: 3, temperature: 1, maxNewTokens: 224, batchSize: 32, hardThreshold: 2, limit: null },
  rl: {
    algo: 'stable-reinforce',
    steps: 30,
    promptsPerStep: 8,
    samplesPerPrompt: 4,
    ppoEpochs: 2,
    miniBatchSize: 16,
    lr: 2e-4,
    warmupSteps: 2,
    weightDecay: 0.01,
    maxGradNorm: 1,
    temperature: 1,
    maxNewTokens: 224,
    preClip: null,
    minRatio: 1e-3,
    maxRatio: 1e3,
    clipEps: 0.2,
    filter: null,
    filterSigma: 3,
    filterRule: 'paper',
    consistency: null,
    rewardWeights: { consistency: 0.5, format: 0.5 },
    klCoef: 0,
    klEstimator: 'k1',
    trackRefKl: false,
    pool: 'hard',
    swapAugment: true,
    curriculum: 'linear:hardness:start=1,rampEnd=0.5',
    checkpointEvery: 5,
    evalEvery: 10,
  },
  eval: { batchSize: 32, maxNewTokens: 224, votingK: 15, votingTemperature: 1, hardLevels: [3, 4], votingLimit: null },
  debug: { nonFiniteSteps: { sft: [], rl: [] } },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object | null ? DeepPartial<T[K]> : T[K] };
export type TrainConfigOverrides = DeepPartial<TrainConfig>;

/**
 * smoke: the whole pipeline on a tiny model and a few dozen samples (tests, quick checks).
 * demo:  `npm start`, sized for about 10 minutes on 2 CPU cores including data generation.
 */
export const PRESETS: Readonly<Record<string, TrainConfigOverrides>> = Object.freeze({
  smoke: {
    data: { n: 48, testFraction: 0.25 },
    model: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxSeqLen: 512 },
    vision: { steps: 4, batchSize: 4, captionShare: 0.25 },
    sft: { epochs: 2, batchSize: 8, lr: 3e-3, warmupSteps: 2, checkpointEvery: 3 },
    difficulty: { maxNewTokens: 32, batchSize: 36 },
    rl: { steps: 4, promptsPerStep: 4, samplesPerPrompt: 2, miniBatchSize: 4, maxNewTokens: 32, checkpointEvery: 2, evalEvery: 2, trackRefKl: true },
    eval: { maxNewTokens: 32, votingK: 3, batchSize: 12 },
  },
  demo: {
    // Fresh samples rather than epochs over a few: a small model memorises a small set (train loss falls, test
    // accuracy stays at chance). 240 test rows; drawing 16,000 rows takes ~30 s.
    data: { n: 16000, testFraction: 0.015 },
    // With the BPE tokenizer the longest samples (~90 prompt + ~110 analysis tokens + 10) fit in 256. The image's
    // rotary positions just before the response: reading learnt in the warm-up then holds after the task prompt.
    model: { maxSeqLen: 256, imagePositions: 'before-response' },
    // Caption steps until the model reads the images (a sudden drop of the caption loss after ~600 to over 1,000
    // steps of 8; the warm-up ends on the loss), then captions after the task prompt in every analysis batch
    // (docs/research/image-blindness.md).
    vision: { steps: 2500, untilLoss: 0.03, batchSize: 8, lr: 3e-3, captionShare: 0.25 },
    sft: { epochs: 2, batchSize: 16, lr: 2e-3, checkpointEvery: 100 },
    difficulty: { limit: 256, batchSize: 64, maxNewTokens: 96 },
    rl: { steps: 120, promptsPerStep: 8, samplesPerPrompt: 4, ppoEpochs: 2, miniBatchSize: 16, lr: 5e-5, maxNewTokens: 96, checkpointEvery: 10, evalEvery: 40, trackRefKl: true },
    eval: { batchSize: 48, maxNewTokens: 96, votingK: 15, votingLimit: 48 },
  },
});

export const PRESET_NAMES = Object.keys(PRESETS);

// ---- validation ------------------------------------------------------------------------------------

type Check = (value: unknown, path: string) => unknown;

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${p} must be an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}, got ${describe(v)}`);
  }
  return v;
};
const num = (min: number, max: number, { minOpen = false, maxOpen = false } = {}): Check => (v, p) => {
  const okLo = minOpen ? (v as number) > min : (v as number) >= min;
  const okHi = maxOpen ? (v as number) < max : (v as number) <= max;
  if (typeof v !== 'number' || !Number.isFinite(v) || !okLo || !okHi) {
    const lo = `${minOpen ? '>' : '>='} ${min}`;
    const hi = Number.isFinite(max) ? ` and ${maxOpen ? '<' : '<='} ${max}` : '';
    throw new RangeError(`${p} must be a number ${lo}${hi}, got ${describe(v)}`);
  }
  return v;
};
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') throw new TypeError(`${p} must be true or false, got ${describe(v)}`);
  return v;
};
const oneOf = (values: readonly string[]): Check => (v, p) => {
  if (typeof v !== 'string' || !values.includes(v)) throw new RangeError(`${p} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`);
  return v;
};
const nullable = (c: Check): Check => (v, p) => (v === null ? null : c(v, p));
const str: Check = (v, p) => {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${p} must be a non-empty string, got ${describe(v)}`);
  return v;
};
const intList = (min: number, max: number, { nonEmpty = true } = {}): Check => (v, p) => {
  if (!Array.isArray(v) || (nonEmpty && v.length === 0)) throw new TypeError(`${p} must be ${nonEmpty ? 'a non-empty' : 'an'} array of integers, got ${describe(v)}`);
  v.forEach((x, i) => int(min, max)(x, `${p}[${i}]`));
  return v;
};
const schedule: Check = (v, p) => {
  str(v, p);
  try {
    parseSchedule(v as string);
  } catch (e) {
    throw new RangeError(`${p}: ${(e as Error).message}`);
  }
  return v;
};

type Schema = { [key: string]: Check | Schema };

const SCHEMA: Schema = {
  preset: str,
  seed: int(0),
  device: oneOf(DEVICES),
  data: {
    dir: nullable(str),
    n: int(4, 10_000_000),
    testFraction: num(0, 1, { minOpen: true, maxOpen: true }),
    levels: intList(1, 4),
    imageSize: int(8, 4096),
    grid: int(2, 8),
    categories: nullable((v, p) => {
      if (!Array.isArray(v) || v.length === 0) throw new TypeError(`${p} must be a non-empty array of categories or null, got ${describe(v)}`);
      v.forEach((x, i) => oneOf(CATEGORIES)(x, `${p}[${i}]`));
      return v;
    }),
    seed: nullable(int(0)),
    maxTrain: nullable(int(1)),
    maxTest: nullable(int(1)),
  },
  model: {
    dModel: int(2),
    nLayers: int(1),
    nHeads: int(1),
    nKvHeads: nullable(int(1)),
    dFF: int(1),
    imageSize: int(1),
    patchSize: int(1),
    maxSeqLen: int(16),
    initSeed: nullable(int(0)),
    imageNorm: oneOf(['data', 'unit']),
    imagePositions: oneOf(['first', 'before-response', 'shared']),
    bpeMerges: int(0, 65536 - 260),
  },
  vision: {
    steps: int(0),
    untilLoss: nullable(num(0, Infinity, { minOpen: true })),
    batchSize: int(1),
    lr: num(0, 1, { minOpen: true }),
    warmupSteps: int(0),
    captionShare: num(0, 4),
    lookupShare: num(0, 1),
    lookupSteps: int(0),
  },
  sft: {
    epochs: int(0, 10_000),
    batchSize: int(1),
    lr: num(0, 1, { minOpen: true }),
    minLrRatio: num(0, 1),
    warmupSteps: int(0),
    weightDecay: num(0, 10),
    maxGradNorm: num(0, Infinity),
    checkpointEvery: int(1),
  },
  difficulty: {
    attempts: int(1, 100),
    temperature: num(0, 10, { minOpen: true }),
    maxNewTokens: int(1),
    batchSize: int(1),
    hardThreshold: int(2, 101),
    limit: nullable(int(1)),
  },
  rl: {
    algo: oneOf(ALGOS),
    steps: int(0),
    promptsPerStep: int(1),
    samplesPerPrompt: int(1, 1024),
    ppoEpochs: int(1, 100),
    miniBatchSize: int(1),
    lr: num(0, 1, { minOpen: true }),
    warmupSteps: int(0),
    weightDecay: num(0, 10),
    maxGradNorm: num(0, Infinity),
    temperature: num(0, 10, { minOpen: true }),
    maxNewTokens: int(1),
    preClip: nullable(bool),
    minRatio: num(1e-30, 1, { maxOpen: true }),
    maxRatio: num(1, 1e30, { minOpen: true }),
    clipEps: num(0, 1),
    filter: nullable(bool),
    filterSigma: num(0, 1e6, { minOpen: true }),
    filterRule: oneOf(['paper', 'released-code']),
    consistency: nullable(bool),
    rewardWeights: { consistency: num(-10, 10), format: num(-10, 10) },
    klCoef: num(0, 1e6),
    klEstimator: oneOf(['k1', 'k2', 'k3']),
    trackRefKl: bool,
    pool: oneOf(['hard', 'all']),
    swapAugment: bool,
    curriculum: schedule,
    checkpointEvery: int(1),
    evalEvery: int(1),
  },
  eval: {
    batchSize: int(1),
    maxNewTokens: int(1),
    votingK: int(0, 64),
    votingTemperature: num(0, 10, { minOpen: true }),
    hardLevels: intList(1, 4, { nonEmpty: false }),
    votingLimit: nullable(int(1)),
  },
  debug: { nonFiniteSteps: { sft: intList(0, Number.MAX_SAFE_INTEGER, { nonEmpty: false }), rl: intList(0, Number.MAX_SAFE_INTEGER, { nonEmpty: false }) } },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function check(value: unknown, schema: Schema, p: string): void {
  if (!isPlainObject(value)) throw new TypeError(`${p} must be an object, got ${describe(value)}`);
  for (const k of Object.keys(value)) {
    if (!(k in schema)) throw new RangeError(`${p}.${k} is not a known setting (known in ${p}: ${Object.keys(schema).join(', ')})`);
  }
  for (const [k, c] of Object.entries(schema)) {
    if (!(k in value)) throw new TypeError(`${p}.${k} is missing`);
    if (typeof c === 'function') c(value[k], `${p}.${k}`);
    else check(value[k], c, `${p}.${k}`);
  }
}

/** Checks that every key of `overrides` exists in the schema (types are checked after merging). */
function checkKeys(overrides: unknown, schema: Schema, p: string): void {
  if (!isPlainObject(overrides)) throw new TypeError(`${p} must be a JSON object, got ${describe(overrides)}`);
  for (const [k, v] of Object.entries(overrides)) {
    const s = schema[k];
    if (s === undefined) throw new RangeError(`${p}.${k} is not a known setting (known in ${p}: ${Object.keys(schema).join(', ')})`);
    if (typeof s !== 'function') checkKeys(v, s, `${p}.${k}`);
  }
}

function merge<T>(base: T, over: unknown): T {
  if (!isPlainObject(over) || !isPlainObject(base)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out as T;
}

/** Cross-field rules the per-field checks cannot express. */
function checkRelations(c: TrainConfig): void {
  const m = c.model;
  if (m.dModel % m.nHeads !== 0) throw new RangeError(`config.model.nHeads (${m.nHeads}) must divide config.model.dModel (${m.dModel})`);
  if ((m.dModel / m.nHeads) % 2 !== 0) throw new RangeError(`config.model.dModel / config.model.nHeads must be even (rotary embeddings), got ${m.dModel / m.nHeads}`);
  if (m.nKvHeads !== null && m.nHeads % m.nKvHeads !== 0) throw new RangeError(`config.model.nKvHeads (${m.nKvHeads}) must divide config.model.nHeads (${m.nHeads})`);
  if (m.imageSize % m.patchSize !== 0) throw new RangeError(`config.model.patchSize (${m.patchSize}) must divide config.model.imageSize (${m.imageSize})`);
  if (m.maxSeqLen <= (m.imageSize / m.patchSize) ** 2 + 2) throw new RangeError(`config.model.maxSeqLen (${m.maxSeqLen}) leaves no room after the ${(m.imageSize / m.patchSize) ** 2} image tokens`);
  // The model's own limits (sizes, parameters: lib/model/config.ts), before a run spends minutes on its data.
  try {
    resolveConfig({ ...modelConfigOf(c), vocabSize: VOCAB_SIZE + m.bpeMerges });
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) e.message = e.message.replace(/\bconfig\.(?!model\.)/g, 'config.model.');
    throw e;
  }
  if (c.rl.algo === 'grpo' && c.rl.samplesPerPrompt < 2) throw new RangeError(`config.rl.samplesPerPrompt must be >= 2 for algo "grpo" (group baselines need a group), got ${c.rl.samplesPerPrompt}`);
  if (!(c.rl.minRatio < c.rl.maxRatio)) throw new RangeError('config.rl.minRatio must be below config.rl.maxRatio');
  if (c.difficulty.hardThreshold > c.difficulty.attempts + 1) {
    throw new RangeError(`config.difficulty.hardThreshold (${c.difficulty.hardThreshold}) must be <= attempts + 1 (${c.difficulty.attempts + 1}, "failed all")`);
  }
  if (c.data.dir === null) {
    const nTest = Math.round(c.data.n * c.data.testFraction);
    if (nTest < 2 || c.data.n - nTest < 2) throw new RangeError(`config.data.n (${c.data.n}) x testFraction (${c.data.testFraction}) leaves fewer than 2 samples in a split`);
  }
}

/**
 * The configuration of a run: `preset` + `overrides` (a parsed JSON object, e.g. from --config) + `flags`
 * (already in config shape). Throws a TypeError/RangeError naming the first bad field.
 */
export function resolveTrainConfig(preset: string, ...overrides: unknown[]): TrainConfig {
  if (typeof preset !== 'string' || !Object.prototype.hasOwnProperty.call(PRESETS, preset)) throw new RangeError(`unknown preset ${shown(preset)} (known: ${PRESET_NAMES.join(', ')})`);
  let cfg: TrainConfig = merge({ preset, ...BASE } as TrainConfig, PRESETS[preset]);
  for (const o of overrides) {
    if (o === undefined) continue;
    if (isPlainObject(o) && 'preset' in o) throw new RangeError('config.preset cannot be set in a config file or override: choose the preset with --preset');
    checkKeys(o, SCHEMA, 'config');
    cfg = merge(cfg, o);
  }
  check(cfg, SCHEMA, 'config');
  checkRelations(cfg);
  return JSON.parse(JSON.stringify(cfg)) as TrainConfig;
}

/** Parses and resolves a config file's text; errors name the file. */
export function parseConfigText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Model constructor input from the config section. */
export function modelConfigOf(c: TrainConfig): ModelConfigInput {
  const m = c.model;
  return {
    dModel: m.dModel,
    nLayers: m.nLayers,
    nHeads: m.nHeads,
    ...(m.nKvHeads !== null ? { nKvHeads: m.nKvHeads } : {}),
    dFF: m.dFF,
    imageSize: m.imageSize,
    patchSize: m.patchSize,
    maxSeqLen: m.maxSeqLen,
    imagePositions: m.imagePositions,
  };
}
