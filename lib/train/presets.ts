/**
 * Presets: overrides of the defaults (config.ts SETTINGS), and how a run's configuration is put together:
 * the defaults, then the preset, then a JSON object (`--config FILE`), then the command-line flags.
 *
 * smoke: the whole pipeline on a tiny model and a few dozen samples (tests, quick checks).
 * demo:  `npm start`, sized for about 10 minutes on 2 CPU cores including data generation.
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
    // Stage 2 in the regime of docs/research/rl-regime.md (the defaults): 30 steps of 32 prompts x 4 samples, one
    // AdamW step each (RLOO + dynamic filtering, k3 KL 0.05 in the loss, lr 5% of the SFT rate, warm-up + cosine).
    // 3,840 rollouts, as many as the 120 steps of 8 x 4 before issue 15, in one pass instead of two.
    rl: { steps: 30, lr: 1e-4, maxNewTokens: 96, checkpointEvery: 5, evalEvery: 10, trackRefKl: true },
    eval: { batchSize: 48, maxNewTokens: 96, votingK: 15, votingLimit: 48 },
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
