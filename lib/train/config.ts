/**
 * Training configuration: every setting declared once, in SETTINGS below (name, kind and range, default, doc
 * string, and the command-line flag of the few that have one). Everything else is derived from it:
 *
 *   TrainConfig (the TypeScript type)   ValueOf<typeof SETTINGS>
 *   DEFAULTS                            the declared defaults
 *   validation                          checkConfig: each setting's own check, then the cross-field rules
 *   `train --help` and --help-config    settingFlags, settingRows (lib/cli/commands/train.ts)
 *   lib/train/README.md's table         settingRows (`npm run docs:config`; a test fails when it is stale)
 *
 * Presets (presets.ts) are overrides of the defaults. An error names the field by its path
 * (`config.rl.lr must be a number > 0 and <= 1, got -1`), and unknown keys are errors (a typo never silently
 * falls back to a default).
 */
import { type Level, levelCategories } from '../data/generate';
import { CATEGORIES, type Category } from '../data/questions';
import { resolveConfig as resolveModelConfig, type ModelConfigInput } from '../model/config';
import { VOCAB_SIZE } from '../model/tokenizer';
import { parseSchedule } from './curriculum';

// ---- kinds of values: how a setting is checked and how its range reads ----------------------------------

/** How a value is checked; `range` is the rule as the help and the README print it. */
interface Kind<T> {
  readonly range: string;
  check(value: unknown, path: string): T;
  /** A command-line flag's text as a value (numbers for numeric kinds). */
  fromText?(text: string): unknown;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

// Plain decimal notation only: Number() also reads "0x10", "0b1" and "" (then the check names the text as given).
const DECIMAL = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?\s*$/i;
const numeric = (text: string) => (DECIMAL.test(text) && Number.isFinite(Number(text)) ? Number(text) : text);

function int(min: number, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  const range = `integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}`;
  return {
    range,
    check(v, p) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`${p} must be an ${range}, got ${describe(v)}`);
      return v;
    },
    fromText: numeric,
  };
}

function num(min: number, max: number, { minOpen = false, maxOpen = false } = {}): Kind<number> {
  const range = `number ${minOpen ? '>' : '>='} ${min}${Number.isFinite(max) ? ` and ${maxOpen ? '<' : '<='} ${max}` : ''}`;
  return {
    range,
    check(v, p) {
      const ok = typeof v === 'number' && Number.isFinite(v) && (minOpen ? v > min : v >= min) && (maxOpen ? v < max : v <= max);
      if (!ok) throw new RangeError(`${p} must be a ${range}, got ${describe(v)}`);
      return v as number;
    },
    fromText: numeric,
  };
}

const bool: Kind<boolean> = {
  range: 'true or false',
  check(v, p) {
    if (typeof v !== 'boolean') throw new TypeError(`${p} must be true or false, got ${describe(v)}`);
    return v;
  },
};

function oneOf<const V extends readonly string[]>(values: V): Kind<V[number]> {
  const range = values.map((x) => JSON.stringify(x)).join(' | ');
  return {
    range,
    check(v, p) {
      if (typeof v !== 'string' || !values.includes(v))
        throw new RangeError(`${p} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(v)}`);
      return v;
    },
  };
}

const text: Kind<string> = {
  range: 'non-empty string',
  check(v, p) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`${p} must be a non-empty string, got ${describe(v)}`);
    return v;
  },
};

function nullable<T>(kind: Kind<T>): Kind<T | null> {
  return { range: `${kind.range}, or null`, check: (v, p) => (v === null ? null : kind.check(v, p)), fromText: kind.fromText };
}

/** An array of `item`s, called `what` in messages ("integers"). */
function listOf<T>(item: Kind<T>, what: string, { nonEmpty = true } = {}): Kind<T[]> {
  return {
    range: `${nonEmpty ? 'non-empty ' : ''}list of ${item.range.replace(/^integer /, 'integers ')}`,
    check(v, p) {
      if (!Array.isArray(v) || (nonEmpty && v.length === 0))
        throw new TypeError(`${p} must be ${nonEmpty ? 'a non-empty' : 'an'} array of ${what}, got ${describe(v)}`);
      v.forEach((x, i) => item.check(x, `${p}[${i}]`));
      return v as T[];
    },
  };
}

/** Exactly two `item`s (e.g. AdamW's betas). */
function pairOf<T>(item: Kind<T>): Kind<[T, T]> {
  return {
    range: `2 ${item.range.replace(/^number /, 'numbers ')}`,
    check(v, p) {
      if (!Array.isArray(v) || v.length !== 2)
        throw new TypeError(`${p} must be an array of 2 numbers, got ${Array.isArray(v) ? `${v.length} values` : describe(v)}`);
      v.forEach((x, i) => item.check(x, `${p}[${i}]`));
      return v as [T, T];
    },
  };
}

const schedule: Kind<string> = {
  range: 'schedule text (curriculum.ts parseSchedule)',
  check(v, p) {
    text.check(v, p);
    try {
      parseSchedule(v as string);
    } catch (e) {
      throw new RangeError(`${p}: ${(e as Error).message}`);
    }
    return v as string;
  },
};

// ---- settings and sections --------------------------------------------------------------------------------

/** A command-line flag of `stable-reinforce train`: `--name ARG` sets the value, a flag without `arg` sets `value`. */
export interface FlagSpec {
  name: string;
  arg?: string;
  value?: unknown;
  /** The flag's own help text (default: the setting's doc). */
  help?: string;
}

export interface Setting<T> {
  readonly kind: Kind<T>;
  readonly default: T;
  readonly doc: string;
  readonly flag?: FlagSpec;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a setting or section of any value type
type Entry = Setting<any> | Section<any>;
type Entries = { readonly [key: string]: Entry };

export interface Section<F extends Entries> {
  readonly doc: string;
  readonly fields: F;
}

function setting<T>(kind: Kind<T>, def: NoInfer<T>, doc: string, flag?: FlagSpec): Setting<T> {
  return { kind, default: def, doc, ...(flag ? { flag } : {}) };
}

function section<F extends Entries>(doc: string, fields: F): Section<F> {
  return { doc, fields };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see Entry
const isSection = (e: Entry): e is Section<any> => 'fields' in e;

/** The value type a setting or section declares. */
export type ValueOf<E> = E extends Setting<infer T> ? T : E extends Section<infer F> ? { -readonly [K in keyof F]: ValueOf<F[K]> } : never;

export const ALGOS = ['stable-reinforce', 'reinforce++', 'grpo'] as const;
export type Algo = (typeof ALGOS)[number];
export const BASELINES = ['none', 'rloo', 'verdict', 'grpo'] as const;
export type Baseline = (typeof BASELINES)[number];
export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export type TrainDevice = (typeof DEVICES)[number];

/** Every setting of a training run, in the order config.json lists them. */
export const SETTINGS = section('A training run', {
  preset: setting(text, 'demo', 'The preset the run starts from (presets.ts); chosen with --preset, not in a config file.'),
  seed: setting(int(0), 0, 'Seed of everything: data, initialisation, sampling.', { name: 'seed', arg: 'N' }),
  device: setting(oneOf(DEVICES), 'auto', "Model device; auto = the CPU (the model's CUDA path is not verified on a GPU yet).", { name: 'device', arg: 'D' }),
  data: section('The rows a run trains and evaluates on (dataset.ts).', {
    dir: setting(nullable(text), null, 'An existing dataset folder (DIR/train.jsonl, DIR/test.jsonl, images); null: synthesise into OUT/data.'),
    n: setting(int(4, 10_000_000), 600, 'Synthetic data: total samples (train + test).'),
    testFraction: setting(num(0, 1, { minOpen: true, maxOpen: true }), 0.2, 'Synthetic data: share of the samples in the test split.'),
    levels: setting(
      listOf(int(0, 4), 'integers'),
      [1, 2, 3, 4],
      'Synthetic data: generator levels to draw (0: one shape, questions about the whole image; lib/data/README.md).',
    ),
    imageSize: setting(int(8, 4096), 48, 'Synthetic data: image side in pixels.'),
    grid: setting(int(2, 8), 3, 'Synthetic data: grid side (cells per row and column).'),
    captionFirst: setting(
      bool,
      false,
      "Teacher analyses begin with the whole scene's caption (one line per cell, as the vision warm-up and the backbone's pretraining write it; a shape that the question's filter matches marked with the running count, e.g. 'center: red square #2'), then the reasoning: a cell the question names is read back from the model's own text by its name, which the backbone has learnt, instead of looked up in the image, and a count is the last mark.",
    ),
    categories: setting(nullable(listOf(oneOf(CATEGORIES), 'categories')), null, 'Synthetic data: question categories to draw (null: all five).'),
    seed: setting(nullable(int(0)), null, "Seed of the synthetic data; null: the run's seed."),
    teacherSlip: setting(
      num(0, 1),
      0,
      "A fallible teacher: the share of the training rows' comparison and existence analyses in which the teacher misreads the image (a comparison's two counts under each other's names; the shape an existence question asks about overlooked) and so picks the flawed response (lib/data slippedReasoning; rows where the misreading changes no verdict stay right). Labels stay true: stage 1 imitates the slips, stage 2's rewards can correct them, as R1-Reward's labels correct its GPT-4o teacher.",
    ),
    maxTrain: setting(nullable(int(1)), null, 'Use at most this many training rows (null: all).'),
    maxTest: setting(nullable(int(1)), null, 'Use at most this many test rows (null: all).'),
  }),
  model: section("The built-in model (lib/model); everything but initSeed, imageNorm and bpeMerges is the model's own config.", {
    dModel: setting(int(2), 128, 'Width of the residual stream.'),
    nLayers: setting(int(1), 4, 'Transformer layers.'),
    nHeads: setting(int(1), 4, 'Attention heads; must divide dModel, with an even head size (rotary embeddings).'),
    nKvHeads: setting(nullable(int(1)), null, 'Key/value heads (grouped-query attention), must divide nHeads; null: nHeads.'),
    dFF: setting(int(1), 352, 'Hidden width of the SwiGLU MLP.'),
    imageSize: setting(int(1), 48, "The model's input image side (images are resized to it)."),
    patchSize: setting(int(1), 16, 'Side of an image patch (one token); must divide imageSize.'),
    maxSeqLen: setting(int(16), 512, 'Context length: image tokens + bos + prompt + response.'),
    initSeed: setting(nullable(int(0)), null, "Parameter initialisation seed; null: the run's seed."),
    init: setting(
      oneOf(['scratch', 'backbone'] as const),
      'scratch',
      "Where the weights start: 'backbone' = the pretrained built-in backbone shipped with the package (backbone/card.md; its tokenizer and pixel statistics too, so bpeMerges and imageNorm do not apply; the size settings must equal its own, maxSeqLen at most its own), 'scratch' = random weights.",
      { name: 'from-scratch', value: 'scratch', help: "start from random weights instead of the preset's pretrained backbone (model.init)" },
    ),
    backboneDir: setting(
      nullable(text),
      null,
      "With init 'backbone': a folder holding another backbone (config.json, tokenizer.json, model.safetensors, e.g. from `stable-reinforce pretrain --export`); null = the shipped one, whose sha256 is checked.",
    ),
    imageNorm: setting(
      oneOf(['data', 'unit'] as const),
      'data',
      "Pixel normalisation stored in the model: 'data' = per-channel mean and std of the training images (a model trained from scratch on dark-background images does not learn to see without it), 'unit' = [-1, 1].",
    ),
    imagePositions: setting(
      oneOf(['first', 'before-response', 'shared'] as const),
      'first',
      "Rotary positions of the image tokens. 'before-response' puts the image next to the response in position space, so what is learnt on short caption prompts holds after a long task prompt (the demo uses it); it slows the short warm-up captions, so the default stays 'first' (docs/research/image-blindness.md).",
    ),
    bpeMerges: setting(
      int(0, 65536 - 260),
      1024,
      'Byte-pair merges learnt from the training texts (prompts, teacher analyses, captions) before stage 1, saved with the model; 0: byte level. Fewer tokens per text make every step cheaper and let one attention lookup match a whole word.',
    ),
  }),
  vision: section(
    'Vision warm-up at the start of stage 1 (phases/vision.ts): the built-in model starts from random weights, where R1-Reward starts from a pretrained vision-language model, so it first learns to read the images by captioning them (needs rows with a scene, i.e. the synthetic data).',
    {
      steps: setting(int(0), 0, 'Caption-only steps before the teacher analyses (0: none); with untilLoss, the most.'),
      untilLoss: setting(
        nullable(num(0, Infinity, { minOpen: true })),
        null,
        'End the warm-up once the mean caption loss of the last 50 steps is below this (null: always run `steps`). The model learns to read in a sudden drop of the loss whose step varies from run to run.',
      ),
      batchSize: setting(int(1), 8, 'Examples per warm-up step (captions, then cell lookups).'),
      lr: setting(
        num(0, 1, { minOpen: true }),
        3e-3,
        'Learning rate of the warm-up (after warmupSteps, constant: a decaying rate can stall the drop it waits for).',
      ),
      warmupSteps: setting(int(0), 10, 'Linear learning-rate warm-up steps.'),
      captionShare: setting(num(0, 4), 0, 'Captions added to every batch of teacher analyses, as a share of sft.batchSize (keeps the skill).'),
      lookupShare: setting(
        num(0, 1),
        0,
        'Share of those added examples that are cell lookups ("Describe the X, Y cells." -> their caption lines) instead of whole captions: reading the cell a question names, which the evidence lines need.',
      ),
      lookupSteps: setting(int(0), 0, 'Steps of cell lookups (after the task prompt; batchSize, lr) between the caption warm-up and the analyses.'),
    },
  ),
  sft: section('Stage 1 (phases/sft.ts): supervised training on the teacher analyses.', {
    epochs: setting(int(0, 10_000), 3, 'Passes over the rows with a teacher analysis.'),
    batchSize: setting(int(1), 16, 'Teacher analyses per step.'),
    lr: setting(num(0, 1, { minOpen: true }), 2e-3, 'Peak learning rate (AdamW).'),
    minLrRatio: setting(num(0, 1), 0.1, 'The learning rate decays (cosine) from lr to lr * minLrRatio.'),
    warmupSteps: setting(int(0), 10, 'Linear learning-rate warm-up steps.'),
    weightDecay: setting(num(0, 10), 0.01, 'AdamW weight decay.'),
    maxGradNorm: setting(num(0, Infinity), 1, 'Gradient norm clip (0: none).'),
    checkpointEvery: setting(int(1), 20, 'Checkpoint every this many stage-1 steps (and at the end).'),
  }),
  difficulty: section("The paper's difficulty (phases/difficulty.ts): attempts needed per training sample, by the stage-1 model or the teacher.", {
    source: setting(
      oneOf(['model', 'teacher'] as const),
      'model',
      "Whose attempts: 'model' = the stage-1 model's sampled attempts; 'teacher' = the paper's own measure, the teacher's: a training row whose teacher verdict disagrees with its label failed all attempts (a teacher at temperature 0 repeats itself on a retry; data.teacherSlip makes such rows), every other row needed one. 'teacher' measures every training row and samples nothing.",
    ),
    attempts: setting(int(1, 100), 3, 'Sampled attempts per training sample (the paper: 3).'),
    temperature: setting(num(0, 10, { minOpen: true }), 1, 'Sampling temperature of the attempts.'),
    maxNewTokens: setting(int(1), 224, 'Longest attempt, in tokens.'),
    batchSize: setting(int(1), 32, 'Prompts generated at once.'),
    hardThreshold: setting(int(2, 101), 2, 'Hard = attempts needed >= this (the paper: 2), failed-all included; at most attempts + 1.'),
    limit: setting(
      nullable(int(1)),
      null,
      'Measure at most this many training samples (a seeded random subset; null: all, as the paper does). Only measured samples can enter stage 2. A time-budget knob.',
    ),
  }),
  rl: section('Stage 2 (phases/rl.ts, rl.ts): StableReinforce or a baseline on the hard samples; defaults: docs/research/rl-regime.md.', {
    algo: setting(
      oneOf(ALGOS),
      'stable-reinforce',
      'The RL algorithm; it sets the defaults of preClip, filter, consistency, baseline and dynamicFilter (when they are null).',
      { name: 'algo', arg: 'A' },
    ),
    steps: setting(int(0), 30, 'RL steps (0: no stage 2; the final model is the stage-1 model).'),
    promptsPerStep: setting(int(1), 32, 'Prompts per step; each is sampled samplesPerPrompt times (32 x 4 = 128 rollouts per step).'),
    samplesPerPrompt: setting(
      int(1, 1024),
      4,
      'Samples per prompt: the group a per-prompt baseline (rloo, grpo) and the dynamic filter compare; at least 2 for those. 8 changed nothing measurable on the bench.',
    ),
    baseline: setting(
      nullable(oneOf(BASELINES)),
      null,
      "What a rollout's reward is compared with before the global standardisation; null: what algo implies (stable-reinforce rloo, reinforce++ none, grpo grpo). 'none' = REINFORCE++ (the reward itself), 'rloo' = the mean reward of the prompt's other samples, 'verdict' = the mean reward of the step's rollouts with the same verdict (1, 2 or none; an update then cannot move the share of \"1\" verdicts as a whole: an alternative for a position-biased stage-1 model), 'grpo' = the mean and std of the prompt's samples (not standardised again unless the filter is on).",
    ),
    dynamicFilter: setting(
      nullable(bool),
      null,
      'Dynamic filtering: drop the prompts whose samples all got the same reward (no signal under a per-prompt baseline; kept, they would only dilute the update); a step that keeps none makes no update. null: what algo implies (on for stable-reinforce).',
    ),
    ppoEpochs: setting(
      int(1, 100),
      1,
      "Passes over each step's rollouts (the released recipe: 1, the ratio stays ~1; the old regime's 2 passes of 2 updates swung the position bias).",
    ),
    rolloutsPerUpdate: setting(
      nullable(int(1)),
      null,
      "Rollouts per AdamW step: each pass splits the step's kept rollouts into updates of this many; null: all of them, one AdamW step per pass (128 rollouts per step by default; 4 AdamW steps per 32 rollouts drifted the bias on the bench).",
    ),
    miniBatchSize: setting(
      int(1),
      16,
      "Sequences per forward/backward pass (micro-batch). The micro-batches of one update are accumulated into one AdamW step (the loss's normaliser is the update's rollouts), so this trades memory for speed and leaves the update as it is (up to float rounding).",
    ),
    lr: setting(
      num(0, 1, { minOpen: true }),
      3e-4,
      "Peak learning rate (AdamW): 15% of the SFT rate. On the demo's teacher errors 3e-4 corrected more than 1e-4 (blind spots +15 against +10 points) and 1e-3 broke the rest (-7); on the evidence bed 3e-4 lost 2 points (docs/research/rl-regime.md).",
    ),
    lrWarmup: setting(num(0, 1, { maxOpen: true }), 0.05, 'Share of the steps with a linear learning-rate warm-up (rounded to whole steps).'),
    minLrRatio: setting(num(0, 1), 0.1, 'After the warm-up the learning rate decays (cosine) from lr to lr * minLrRatio at the last step; 1: constant.'),
    betas: setting(
      pairOf(num(0, 1, { maxOpen: true })),
      [0.9, 0.95],
      "AdamW's betas (the released recipe's: the second moment follows stage 2's few, noisy updates).",
    ),
    weightDecay: setting(num(0, 10), 0, 'AdamW weight decay (the released recipe: 0; the KL term anchors the policy to the stage-1 model instead).'),
    maxGradNorm: setting(num(0, Infinity), 1, 'Gradient norm clip (0: none).'),
    temperature: setting(
      num(0, 10, { minOpen: true }),
      1,
      'Sampling temperature of the rollouts (and of the log-probs); 0.7 changed nothing measurable on the bench.',
    ),
    maxNewTokens: setting(int(1), 224, 'Longest rollout, in tokens.'),
    preClip: setting(nullable(bool), null, 'Pre-CLIP of the probability ratio to [minRatio, maxRatio]; null: what algo implies.', {
      name: 'no-preclip',
      value: false,
      help: 'ablation: no Pre-CLIP of the probability ratio',
    }),
    minRatio: setting(num(1e-30, 1, { maxOpen: true }), 1e-3, 'Pre-CLIP lower bound of the ratio (below maxRatio).'),
    maxRatio: setting(num(1, 1e30, { minOpen: true }), 1e3, 'Pre-CLIP upper bound of the ratio.'),
    clipEps: setting(num(0, 1), 0.2, 'PPO clip range of the ratio.'),
    filter: setting(nullable(bool), null, 'Advantage Filter: zero advantages with |z| > filterSigma; null: what algo implies.', {
      name: 'no-filter',
      value: false,
      help: 'ablation: no Advantage Filter (plain global normalisation)',
    }),
    filterSigma: setting(num(0, 1e6, { minOpen: true }), 3, 'Advantage Filter threshold in standard deviations.'),
    filterRule: setting(oneOf(['paper', 'released-code'] as const), 'paper', "Advantage Filter: the paper's rule or the released code's."),
    consistency: setting(nullable(bool), null, 'Consistency reward (rule-based judge); null: what algo implies.', {
      name: 'no-consistency',
      value: false,
      help: 'ablation: no consistency reward (R = Result + 0.5 Format)',
    }),
    rewardWeights: section('R = Result * (1 + consistency * C) + format * F.', {
      consistency: setting(num(-10, 10), 0.5, 'Weight of the consistency reward C.'),
      format: setting(num(-10, 10), 0.5, 'Weight of the format reward F.'),
    }),
    klCoef: setting(
      num(0, 1e6),
      0.05,
      'KL penalty coefficient against the frozen stage-1 model, applied where klIn says (the paper: 0; the released script: 1e-3, k1, in the returns; the bench: 0.05, k3, in the loss, where the KL stayed ~0.001 per token).',
    ),
    klEstimator: setting(
      oneOf(['k1', 'k2', 'k3'] as const),
      'k3',
      'Token KL estimator, x the log-ratio to the stage-1 model: k1 = x, k2 = x^2/2, k3 = exp(-x) - 1 + x (never negative; its gradient pulls back toward the reference).',
    ),
    klIn: setting(
      oneOf(['loss', 'reward'] as const),
      'loss',
      "Where the KL penalty enters, once: 'loss' = klCoef * k(logp_new - logp_ref) added to every token's loss (its gradient anchors the policy; GRPO and the bench); 'reward' = -klCoef * k(logp_old - logp_ref) per token in the REINFORCE++ returns (reward shaping, the trainer before issue 15), then through the baseline and the standardisation.",
    ),
    trackRefKl: setting(bool, false, 'Load the stage-1 model and measure the KL to it even when klCoef is 0 (one extra forward pass per step).'),
    pool: setting(oneOf(['hard', 'all'] as const), 'hard', "RL samples: 'hard' (the paper: needed >= 2 attempts or failed all) or 'all' measured ones."),
    randomLabels: setting(
      bool,
      false,
      "The random-label control: stage 2's rewards come from the pool's labels shuffled (same counts of 1 and 2; seeded). A gain that survives it comes from format or position, not from judging.",
    ),
    easyShare: setting(
      num(0, 1, { maxOpen: true }),
      0.5,
      "Share of a 'hard' pool taken from the measured samples that are not hard (seeded): guards. Hard samples whose errors all lean one way teach that way as a prior (a pool of overlooked shapes taught 'yes' to every existence question, docs/research/rl-regime.md); a guard's group turns informative when an update starts to break it, and the dynamic filter drops it while it does not. Pair with a curriculum of 'none' (by hardness the guards come first).",
    ),
    swapAugment: setting(
      bool,
      true,
      'Add every pool sample with its two responses exchanged (label flipped): otherwise stage 2 can raise its reward by moving a position bias instead of judging better.',
    ),
    curriculum: setting(
      schedule,
      'none',
      'Curriculum schedule, e.g. "none" (uniform over the pool) or "linear:hardness:start=1,rampEnd=0.5" (curriculum.ts parseSchedule). By hardness the guards of rl.easyShare would come first; uniform drawing is what improved the demo (docs/research/rl-regime.md, session 13).',
    ),
    checkpointEvery: setting(int(1), 5, 'Checkpoint every this many RL steps (and at the end).'),
    evalEvery: setting(int(1), 10, 'Greedy test accuracy every this many RL steps (and at the end).'),
  }),
  eval: section('Evaluation along the way and at the end (evaluate.ts, phases/final.ts).', {
    batchSize: setting(int(1), 32, 'Test prompts generated at once.'),
    maxNewTokens: setting(int(1), 224, 'Longest test output, in tokens.'),
    votingK: setting(int(0, 64), 15, 'Voting@K at the end: K samples per test pair at votingTemperature (0: no voting).'),
    votingTemperature: setting(num(0, 10, { minOpen: true }), 1, 'Sampling temperature of Voting@K.'),
    votingTopP: setting(
      num(0, 1, { minOpen: true }),
      1,
      "Nucleus sampling mass of Voting@K: each token is drawn from the fewest tokens holding this share of the probability (1: the full softmax, the paper's setting).",
    ),
    hardLevels: setting(
      listOf(int(1, 4), 'integers', { nonEmpty: false }),
      [3, 4],
      "Test samples counted as hard: their generator level is in this list (not the stage-1 model's attempts: a subset chosen by its own failures would improve after any change, which would flatter stage 2).",
    ),
    votingLimit: setting(nullable(int(1)), null, 'Use at most this many test rows for Voting@K (null: all).'),
  }),
  debug: section('Fault injection (tests).', {
    nonFiniteSteps: section('Steps (1-based) whose gradient is replaced by NaN, to exercise the non-finite guard.', {
      sft: setting(listOf(int(0), 'integers', { nonEmpty: false }), [], 'Stage-1 steps.'),
      rl: setting(listOf(int(0), 'integers', { nonEmpty: false }), [], 'Stage-2 steps.'),
    }),
  }),
});

export type TrainConfig = ValueOf<typeof SETTINGS>;
export type DataConfig = TrainConfig['data'];
export type ModelSection = TrainConfig['model'];
export type VisionConfig = TrainConfig['vision'];
export type SftConfig = TrainConfig['sft'];
export type DifficultyConfig = TrainConfig['difficulty'];
export type RlConfig = TrainConfig['rl'];
export type EvalConfig = TrainConfig['eval'];

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object | null ? DeepPartial<T[K]> : T[K] };
export type TrainConfigOverrides = DeepPartial<TrainConfig>;

function defaultsOf(s: Section<Entries>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s.fields).map(([k, e]) => [k, isSection(e) ? defaultsOf(e) : structuredClone(e.default)]));
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') Object.values(Object.freeze(v)).forEach(deepFreeze);
  return v;
}

/** Every setting at its declared default (frozen; presets.ts overrides some). */
export const DEFAULTS: Readonly<TrainConfig> = deepFreeze(defaultsOf(SETTINGS) as TrainConfig);

// ---- what the help, the README and the CLI read --------------------------------------------------------

export interface SettingRow {
  /** Dotted path, e.g. "rl.lr"; a section's row has `section` set and no range or default. */
  path: string;
  doc: string;
  section?: true;
  range?: string;
  default?: unknown;
}

/** Sections and settings in declaration order. */
export function settingRows(s: Section<Entries> = SETTINGS, prefix = ''): SettingRow[] {
  return Object.entries(s.fields).flatMap(([k, e]): SettingRow[] =>
    isSection(e)
      ? [{ path: prefix + k, doc: e.doc, section: true }, ...settingRows(e, `${prefix}${k}.`)]
      : [{ path: prefix + k, doc: e.doc, range: e.kind.range, default: e.default }],
  );
}

/** The settings with a command-line flag, and how the flag's text becomes a value. */
export function settingFlags(): { path: string[]; flag: FlagSpec; range: string; default: unknown; doc: string; fromText: (t: string) => unknown }[] {
  const walk = (s: Section<Entries>, at: string[]): ReturnType<typeof settingFlags> =>
    Object.entries(s.fields).flatMap(([k, e]) => {
      if (isSection(e)) return walk(e, [...at, k]);
      if (!e.flag) return [];
      return [{ path: [...at, k], flag: e.flag, range: e.kind.range, default: e.default, doc: e.doc, fromText: e.kind.fromText ?? ((t: string) => t) }];
    });
  return walk(SETTINGS, []);
}

/** Checks one setting's value, the error naming it as `name` (e.g. a flag: "--seed"). */
export function checkSetting(path: readonly string[], value: unknown, name: string): unknown {
  let e: Entry = SETTINGS;
  for (const k of path) {
    if (!isSection(e) || !(k in e.fields)) throw new RangeError(`config.${path.join('.')} is not a known setting`);
    e = e.fields[k];
  }
  if (isSection(e)) throw new RangeError(`config.${path.join('.')} is a section, not a setting`);
  return e.kind.check(value, name);
}

// ---- validation ----------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const known = (s: Section<Entries>, p: string, k: string) =>
  new RangeError(`${p}.${k} is not a known setting (known in ${p}: ${Object.keys(s.fields).join(', ')})`);

function checkSection(value: unknown, s: Section<Entries>, p: string): void {
  if (!isPlainObject(value)) throw new TypeError(`${p} must be an object, got ${describe(value)}`);
  for (const k of Object.keys(value)) if (!(k in s.fields)) throw known(s, p, k);
  for (const [k, e] of Object.entries(s.fields)) {
    if (!(k in value)) throw new TypeError(`${p}.${k} is missing`);
    if (isSection(e)) checkSection(value[k], e, `${p}.${k}`);
    else e.kind.check(value[k], `${p}.${k}`);
  }
}

/** Checks that every key of `overrides` is a setting (values are checked after merging). */
export function checkOverrideKeys(overrides: unknown, s: Section<Entries> = SETTINGS, p = 'config'): void {
  if (!isPlainObject(overrides)) throw new TypeError(`${p} must be a JSON object, got ${describe(overrides)}`);
  for (const [k, v] of Object.entries(overrides)) {
    const e = s.fields[k];
    if (e === undefined) throw known(s, p, k);
    if (isSection(e)) checkOverrideKeys(v, e, `${p}.${k}`);
  }
}

/** `over` deep-merged into `base` (arrays and scalars replace). */
export function mergeOverrides<T>(base: T, over: unknown): T {
  if (!isPlainObject(over) || !isPlainObject(base)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = mergeOverrides(out[k], v);
  return out as T;
}

/** Every setting's own check, then the cross-field rules; throws a TypeError/RangeError naming the field. */
export function checkConfig(c: TrainConfig): void {
  checkSection(c, SETTINGS, 'config');
  // The model's own rules and size limits (lib/model/config.ts; with the vocabulary the BPE merges will make),
  // before a run spends minutes on its data; the messages name the fields by their path here.
  try {
    resolveModelConfig({ ...modelConfigOf(c), vocabSize: VOCAB_SIZE + c.model.bpeMerges });
  } catch (e) {
    const message = (e as Error).message.replace(/\bconfig\.(?!model\.)/g, 'config.model.');
    throw e instanceof TypeError ? new TypeError(message) : new RangeError(message);
  }
  const m = c.model;
  if (m.maxSeqLen <= (m.imageSize / m.patchSize) ** 2 + 2)
    throw new RangeError(`config.model.maxSeqLen (${m.maxSeqLen}) leaves no room after the ${(m.imageSize / m.patchSize) ** 2} image tokens`);
  const rl = effectiveRl(c.rl);
  if ((rl.baseline === 'rloo' || rl.baseline === 'grpo') && c.rl.samplesPerPrompt < 2) {
    throw new RangeError(
      `config.rl.samplesPerPrompt must be >= 2 for the "${rl.baseline}" baseline${c.rl.baseline === null ? ` (algo "${c.rl.algo}"'s)` : ''} (a per-prompt baseline needs a group), got ${c.rl.samplesPerPrompt}`,
    );
  }
  if (rl.dynamicFilter && c.rl.samplesPerPrompt < 2) {
    throw new RangeError(
      `config.rl.samplesPerPrompt must be >= 2 with config.rl.dynamicFilter (a group of one always has one reward: every prompt would be dropped), got ${c.rl.samplesPerPrompt}`,
    );
  }
  if (!(c.rl.minRatio < c.rl.maxRatio)) throw new RangeError('config.rl.minRatio must be below config.rl.maxRatio');
  if (c.difficulty.hardThreshold > c.difficulty.attempts + 1) {
    throw new RangeError(
      `config.difficulty.hardThreshold (${c.difficulty.hardThreshold}) must be <= attempts + 1 (${c.difficulty.attempts + 1}, "failed all")`,
    );
  }
  if (c.difficulty.source === 'teacher' && c.data.dir === null && c.data.teacherSlip === 0) {
    throw new RangeError(
      "config.difficulty.source 'teacher' needs a teacher that errs: the built-in data's teacher is never wrong unless config.data.teacherSlip > 0 (every sample would be easy)",
    );
  }
  if (c.data.dir === null) {
    const nTest = Math.round(c.data.n * c.data.testFraction);
    if (nTest < 2 || c.data.n - nTest < 2)
      throw new RangeError(`config.data.n (${c.data.n}) x testFraction (${c.data.testFraction}) leaves fewer than 2 samples in a split`);
    const categories = (c.data.categories ?? CATEGORIES) as readonly Category[];
    for (const level of c.data.levels as Level[]) {
      if (levelCategories(level, categories).length === 0) {
        throw new RangeError(
          `config.data.categories: level ${level} asks only ${levelCategories(level).join(', ')} questions, none of ${categories.join(', ')}`,
        );
      }
    }
  }
}

/** The dotted paths where two configurations (or any JSON values) differ, each with both values. */
export function configDifferences(a: unknown, b: unknown, p = 'config'): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])];
    return keys.flatMap((k) => configDifferences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${p}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${p}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`];
}

/** Parses a config file's text; errors name the file. */
export function parseConfigText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

// ---- what the settings imply ------------------------------------------------------------------------------

/** The switches and the baseline an algorithm implies; explicit values in the config (not null) win. */
export function algoDefaults(algo: Algo): EffectiveRl {
  if (algo === 'stable-reinforce') return { preClip: true, filter: true, consistency: true, baseline: 'rloo', dynamicFilter: true };
  return { preClip: false, filter: false, consistency: false, baseline: algo === 'grpo' ? 'grpo' : 'none', dynamicFilter: false };
}

export interface EffectiveRl {
  preClip: boolean;
  filter: boolean;
  consistency: boolean;
  baseline: Baseline;
  dynamicFilter: boolean;
}

export function effectiveRl(rl: RlConfig): EffectiveRl {
  const d = algoDefaults(rl.algo);
  return {
    preClip: rl.preClip ?? d.preClip,
    filter: rl.filter ?? d.filter,
    consistency: rl.consistency ?? d.consistency,
    baseline: rl.baseline ?? d.baseline,
    dynamicFilter: rl.dynamicFilter ?? d.dynamicFilter,
  };
}

/** The model's constructor input: config.model less the settings that only training reads. */
export function modelConfigOf(c: TrainConfig): ModelConfigInput {
  const { initSeed: _seed, init: _init, backboneDir: _dir, imageNorm: _norm, bpeMerges: _merges, nKvHeads, ...arch } = c.model;
  return { ...arch, ...(nKvHeads !== null ? { nKvHeads } : {}) };
}
