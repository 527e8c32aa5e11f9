/**
 * Configuration of the built-in policy model. Required keys: dModel, nLayers,
 * nHeads, dFF, imageSize, patchSize, maxSeqLen; the rest has defaults. Every
 * error names the key and the rule it breaks.
 */
import { MAX_VOCAB_SIZE, VOCAB_SIZE } from './tokenizer';

export interface ModelConfigInput {
  /** Width of the residual stream. */
  dModel: number;
  nLayers: number;
  /** Attention heads; must divide dModel, and dModel / nHeads must be even (RoPE). */
  nHeads: number;
  /** Key/value heads (grouped-query attention); must divide nHeads. Default nHeads. */
  nKvHeads?: number;
  /** Hidden width of the SwiGLU MLP. */
  dFF: number;
  /** Side of the square RGB input image in pixels. */
  imageSize: number;
  /** Side of a patch; must divide imageSize. The image gives (imageSize / patchSize)^2 tokens. */
  patchSize: number;
  /** Context length: image tokens + bos + prompt + response. */
  maxSeqLen: number;
  /** RoPE base, default 10000. */
  ropeTheta?: number;
  /** RMSNorm epsilon, default 1e-5. */
  normEps?: number;
  /**
   * Token ids: 256 bytes + bos, eos, pad, image (260, the default: byte level) plus the tokenizer's merges.
   * Must equal the model's tokenizer's vocabSize.
   */
  vocabSize?: number;
  /**
   * Pixel normalisation, per RGB channel, on values in [0, 1]: (v - imageMean) / imageStd. Defaults 0.5 and
   * 0.5 map pixels to [-1, 1]. Set them to the training images' statistics when a plain background dominates
   * the images: an off-centre input adds one shared vector to every image token, which drowns what a patch
   * shows and keeps a model trained from scratch from learning to see (docs/research/image-blindness.md).
   */
  imageMean?: readonly [number, number, number];
  imageStd?: readonly [number, number, number];
  /**
   * Rotary positions of the image tokens: 'first' (default) numbers the sequence in order, image first;
   * 'before-response' gives the image the positions between the prompt and the response (the sequence order is
   * unchanged), so the response is always a few positions from the image however long the prompt is;
   * 'shared' puts all image tokens at one position, the last before the response: a token then tells where it is
   * in the image only by its patch's row/column embedding, so the model cannot read "line k of a caption from
   * image token k" by relative position and learns to find a place in the image by its name instead.
   */
  imagePositions?: 'first' | 'before-response' | 'shared';
}

export type ModelConfig = Required<ModelConfigInput>;

export type Rgb = readonly [number, number, number];

const KEYS = [
  'dModel',
  'nLayers',
  'nHeads',
  'nKvHeads',
  'dFF',
  'imageSize',
  'patchSize',
  'maxSeqLen',
  'ropeTheta',
  'normEps',
  'vocabSize',
  'imageMean',
  'imageStd',
  'imagePositions',
] as const;

/**
 * Upper bounds of the model's sizes, checked before anything is allocated (the native core checks the same, in
 * 64-bit arithmetic, native/model/model.h). They keep every size product far from overflowing and refuse a
 * config that would allocate more than any machine has (a 100-byte config.json with nLayers 1e6 asked for ~74 GB).
 */
export const MODEL_LIMITS = Object.freeze({
  dModel: 32768,
  nLayers: 1024,
  dFF: 131072,
  imageSize: 4096,
  maxSeqLen: 1 << 20,
  /** Parameters in all (their values and gradients are allocated at creation, 8 bytes each). */
  parameters: 2 ** 32,
  /** maxSeqLen x head size: the rotary tables allocated at creation. */
  ropeTable: 2 ** 30,
});

function int(value: unknown, key: string, min: number, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number') throw new TypeError(`config.${key} must be a number, got ${value === undefined ? 'nothing' : typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`config.${key} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

function num(value: unknown, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`config.${key} must be a finite number`);
  return value;
}

function rgb(value: unknown, key: string, fallback: Rgb, positive: boolean): Rgb {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 3 || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new TypeError(`config.${key} must be an array of 3 finite numbers (R, G, B)`);
  }
  if (positive && !value.every((x: number) => x > 0)) throw new RangeError(`config.${key} must be > 0 in every channel, got [${value.join(', ')}]`);
  return [value[0], value[1], value[2]];
}

/** Validates a configuration and fills in the defaults. */
export function resolveConfig(input: ModelConfigInput): ModelConfig {
  if (input === null || typeof input !== 'object') throw new TypeError('config must be an object');
  for (const k of Object.keys(input)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new TypeError(`config.${k} is not a model config key (known: ${KEYS.join(', ')})`);
  }
  const c = input as unknown as Record<string, unknown>;
  const dModel = int(c.dModel, 'dModel', 1, MODEL_LIMITS.dModel);
  const nLayers = int(c.nLayers, 'nLayers', 1, MODEL_LIMITS.nLayers);
  const nHeads = int(c.nHeads, 'nHeads', 1, dModel);
  const nKvHeads = c.nKvHeads === undefined ? nHeads : int(c.nKvHeads, 'nKvHeads', 1, nHeads);
  const dFF = int(c.dFF, 'dFF', 1, MODEL_LIMITS.dFF);
  const imageSize = int(c.imageSize, 'imageSize', 1, MODEL_LIMITS.imageSize);
  const patchSize = int(c.patchSize, 'patchSize', 1, imageSize);
  const maxSeqLen = int(c.maxSeqLen, 'maxSeqLen', 2, MODEL_LIMITS.maxSeqLen);
  const ropeTheta = num(c.ropeTheta, 'ropeTheta', 10000);
  const normEps = num(c.normEps, 'normEps', 1e-5);
  const vocabSize = c.vocabSize === undefined ? VOCAB_SIZE : int(c.vocabSize, 'vocabSize', 1, MAX_VOCAB_SIZE);
  const imageMean = rgb(c.imageMean, 'imageMean', [0.5, 0.5, 0.5], false);
  const imageStd = rgb(c.imageStd, 'imageStd', [0.5, 0.5, 0.5], true);
  const imagePositions = c.imagePositions === undefined ? 'first' : c.imagePositions;
  if (imagePositions !== 'first' && imagePositions !== 'before-response' && imagePositions !== 'shared') {
    throw new RangeError(`config.imagePositions must be 'first', 'before-response' or 'shared', got ${JSON.stringify(imagePositions)}`);
  }
  if (dModel % nHeads !== 0) throw new RangeError(`config.nHeads (${nHeads}) must divide config.dModel (${dModel})`);
  if ((dModel / nHeads) % 2 !== 0) throw new RangeError(`config.dModel / config.nHeads (the head size, ${dModel / nHeads}) must be even for rotary embeddings`);
  if (nHeads % nKvHeads !== 0) throw new RangeError(`config.nKvHeads (${nKvHeads}) must divide config.nHeads (${nHeads})`);
  if (imageSize % patchSize !== 0) throw new RangeError(`config.patchSize (${patchSize}) must divide config.imageSize (${imageSize})`);
  const imageTokens = (imageSize / patchSize) ** 2;
  if (maxSeqLen <= imageTokens + 1) {
    throw new RangeError(`config.maxSeqLen (${maxSeqLen}) must exceed the ${imageTokens} image tokens + bos`);
  }
  if (!(ropeTheta > 1)) throw new RangeError(`config.ropeTheta must be > 1, got ${ropeTheta}`);
  if (!(normEps > 0)) throw new RangeError(`config.normEps must be > 0, got ${normEps}`);
  if (vocabSize < VOCAB_SIZE || vocabSize > MAX_VOCAB_SIZE) {
    throw new RangeError(`config.vocabSize must be from ${VOCAB_SIZE} (256 bytes + 4 specials) to ${MAX_VOCAB_SIZE}, got ${vocabSize}`);
  }
  const config: ModelConfig = {
    dModel,
    nLayers,
    nHeads,
    nKvHeads,
    dFF,
    imageSize,
    patchSize,
    maxSeqLen,
    ropeTheta,
    normEps,
    vocabSize,
    imageMean,
    imageStd,
    imagePositions,
  };
  // Sizes as products, exact in doubles below 2^53 (every factor is bounded above).
  const params = parameterCount(config);
  if (params > MODEL_LIMITS.parameters) {
    throw new RangeError(
      `config: ${params.toExponential(3)} parameters (from dModel ${dModel}, nLayers ${nLayers}, dFF ${dFF}, vocabSize ${vocabSize}, ` +
        `patchSize ${patchSize}), more than the limit of ${MODEL_LIMITS.parameters}`,
    );
  }
  if (maxSeqLen * (dModel / nHeads) > MODEL_LIMITS.ropeTable) {
    throw new RangeError(`config.maxSeqLen (${maxSeqLen}) x the head size (${dModel / nHeads}) must be at most ${MODEL_LIMITS.ropeTable} (the rotary tables)`);
  }
  return config;
}

/** The number of parameters of a model of config `c` (model.cpp's list: vision, embeddings, layers, head). */
export function parameterCount(c: ModelConfig): number {
  const d = c.dModel;
  const headDim = d / c.nHeads;
  const qDim = c.nHeads * headDim;
  const kvDim = c.nKvHeads * headDim;
  const grid = c.imageSize / c.patchSize;
  const vision = d * 3 * c.patchSize * c.patchSize + d + 2 * grid * d;
  const layer = 2 * d + qDim * d + 2 * kvDim * d + d * qDim + 3 * c.dFF * d;
  return vision + 2 * c.vocabSize * d + c.nLayers * layer + d;
}

/** Image tokens per image: (imageSize / patchSize)^2. */
export function imageTokens(c: ModelConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

/** Ready-made sizes. demo: trains in minutes on 2 CPU cores; large: the benchmark's d = 512, 8 layers. */
export const MODEL_PRESETS: Readonly<Record<'tiny' | 'demo' | 'large', ModelConfigInput>> = Object.freeze({
  tiny: { dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, imageSize: 16, patchSize: 8, maxSeqLen: 128 },
  demo: { dModel: 128, nLayers: 4, nHeads: 4, dFF: 352, imageSize: 32, patchSize: 8, maxSeqLen: 512 },
  large: { dModel: 512, nLayers: 8, nHeads: 8, dFF: 1408, imageSize: 64, patchSize: 8, maxSeqLen: 1024 },
});
