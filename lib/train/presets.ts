/**
 * Presets: overrides of the defaults (config.ts SETTINGS), and how a run's configuration is put together:
 * the defaults, then the preset, then a JSON object (`--config FILE`), then the command-line flags.
 *
 * smoke: the whole pipeline on a tiny model and a few dozen samples (tests, quick checks).
 * demo:  `npm start`, from the shipped backbone, sized for about 10 minutes on 2 CPU cores including data generation.
 */
import { shown } from '../internal/validate';
import { DEFAULTS, type TrainConfig, type TrainConfigOverrides, checkConfig, checkOverrideKeys, mergeOverrides } from './config';

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
    // Fresh samples rather than epochs over a few: a small model memorises a small set. 1,120 test rows (>= 1,000,
    // so that a point of accuracy is about a point); drawing 16,000 rows takes ~25-50 s. Stage 1 trains on 8,000 of
    // the 14,880 training rows (500 steps): all of them take 930 steps, ~7 minutes on a slow 2-core machine, for a
    // few points more (docs/research/rl-regime.md, session 12). n and testFraction stay: the backbone's pretraining
    // avoids exactly this test split.
    // A teacher that errs, as R1-Reward's GPT-4o does (data.teacherSlip: it misreads 60% of the comparisons and
    // existence questions it can misread, and picks the flawed response there), with true labels: stage 2 then has
    // what the paper's has, errors of the teacher that the labels can correct (docs/research/rl-regime.md, session 13).
    data: { n: 16000, testFraction: 0.07, captionFirst: true, maxTrain: 8000, teacherSlip: 0.6 },
    // The shipped backbone (backbone/card.md, docs/research/backbone.md): it already reads the images and recalls a
    // cell's line by name, so stage 1 needs no vision warm-up. Its size, context and image layout.
    model: { init: 'backbone', dModel: 128, nLayers: 6, nHeads: 4, dFF: 352, maxSeqLen: 384, imagePositions: 'before-response' },
    vision: { steps: 0, captionShare: 0 },
    sft: { epochs: 1, batchSize: 16, lr: 2e-3, checkpointEvery: 100 },
    // The paper's difficulty, the teacher's: the rows whose teacher verdict is not the label (nothing sampled).
    difficulty: { source: 'teacher' },
    // Stage 2 in the regime of docs/research/rl-regime.md, the defaults: 32 prompts x 4 samples per AdamW step, RLOO +
    // dynamic filtering, k3 KL 0.05 in the loss, lr 3e-4 with warm-up + cosine, on the teacher's hard samples and as
    // many guards (rl.easyShare: without them the fix of the overlooked shapes became "yes" to every existence
    // question), drawn uniformly. 16 steps keep the run well under 10 minutes on 2 cores.
    rl: { steps: 16, maxNewTokens: 224, checkpointEvery: 5, evalEvery: 10, trackRefKl: true },
    // Voting@5 on 240 test pairs (a standard error near 2.5 points), compared with greedy on the same pairs.
    eval: { batchSize: 48, maxNewTokens: 224, votingK: 5, votingLimit: 240 },
  },
});

export const PRESET_NAMES = Object.keys(PRESETS);

/**
 * The configuration of a run: the defaults, `preset`'s overrides, then each of `overrides` (parsed JSON
 * objects, e.g. from --config, or flags already in config shape). Throws a TypeError/RangeError naming the first
 * bad field.
 */
export function resolveTrainConfig(preset: string, ...overrides: unknown[]): TrainConfig {
  if (typeof preset !== 'string' || !Object.prototype.hasOwnProperty.call(PRESETS, preset))
    throw new RangeError(`unknown preset ${shown(preset)} (known: ${PRESET_NAMES.join(', ')})`);
  let cfg = mergeOverrides<TrainConfig>(DEFAULTS, { preset, ...PRESETS[preset] });
  for (const o of overrides) {
    if (o === undefined) continue;
    if (o !== null && typeof o === 'object' && 'preset' in o)
      throw new RangeError('config.preset cannot be set in a config file or override: choose the preset with --preset');
    checkOverrideKeys(o);
    cfg = mergeOverrides(cfg, o);
  }
  checkConfig(cfg);
  return JSON.parse(JSON.stringify(cfg)) as TrainConfig;
}
