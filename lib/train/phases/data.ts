/**
 * Phase 0, where a sample starts: the rows (synthesised into OUT/data once, or read from data.dir), the
 * tokenizer (learnt from the training rows, or the checkpoint's), every image decoded once at the model's input
 * size, and the model that will learn from them (new, or the checkpoint's).
 *
 * In: the configuration, the run folder and the checkpoint resumed from. Out: the run's data, images and model.
 */
import * as path from 'path';
import { backends } from '../../backends';
import { backboneDir, backboneMismatch, loadBackbone } from '../../model/backbone';
import { pixelStatistics } from '../../model/image';
import { PolicyModel } from '../../model/policy-model';
import { Tokenizer } from '../../model/tokenizer';
import type { CheckpointState } from '../checkpoint';
import { type TrainConfig, modelConfigOf } from '../config';
import { ImageCache, type RunData, type TrainRow, prepareData, runTokenizer } from '../dataset';
import { Progress, type RunHooks } from '../run';

export interface RunStart {
  config: TrainConfig;
  out: string;
  device: 'cpu' | 'cuda';
  state: CheckpointState;
  /** The checkpoint folder resumed from, or null for a new run. */
  resumedFrom: string | null;
}

export async function prepareRun(start: RunStart, hooks: RunHooks): Promise<{ data: RunData; images: ImageCache; model: PolicyModel }> {
  const { config: c, out, resumedFrom, state } = start;
  const t = Date.now();
  const bar = c.data.dir === null ? new Progress('data', c.data.n, hooks.onProgress) : null;
  bar?.start(0, c.data.n);
  // The tokenizer: a resumed run's is saved with its model; a new run learns it from the training rows.
  // A run from the backbone uses the backbone's tokenizer (and weights and pixel statistics).
  const backbone = !resumedFrom && c.model.init === 'backbone' ? await backboneFor(c, start.device) : null;
  const tokenizerOf = (train: readonly TrainRow[]) =>
    resumedFrom ? Tokenizer.load(path.join(resumedFrom, 'model')) : backbone ? backbone.tokenizer : runTokenizer(c, train);
  const data = await prepareData(c, out, tokenizerOf, (done) => bar?.update(done));
  bar?.finish();
  const images = new ImageCache(data.dir, c.model.imageSize);
  await images.load([...data.train, ...data.test]);
  if (!resumedFrom) state.seconds.data = (state.seconds.data ?? 0) + (Date.now() - t) / 1000;
  const dropped = data.dropped.train + data.dropped.test;
  hooks.log(
    `data: ${data.train.length} train, ${data.test.length} test rows from ${data.dir}` + (dropped ? ` (${dropped} rows dropped: longer than the context)` : ''),
  );
  if (resumedFrom) return { data, images, model: await PolicyModel.load(path.join(resumedFrom, 'model'), { device: start.device }) };
  if (backbone) {
    const from = c.model.backboneDir !== null ? path.resolve(c.model.backboneDir) : `${backboneDir()}, card.md`;
    hooks.log(`model: the backbone, ${backbone.numParameters.toLocaleString('en-US')} parameters (${from}) on ${backbone.device}`);
    return { data, images, model: backbone };
  }

  // The pixel statistics are stored in the model's config: inference normalises the same way.
  const norm = c.model.imageNorm === 'data' ? pixelStatistics(data.train.map((r) => images.get(r))) : null;
  const model = PolicyModel.create(
    { ...modelConfigOf(c), ...(norm ? { imageMean: norm.mean, imageStd: norm.std } : {}) },
    { device: start.device, seed: c.model.initSeed ?? c.seed, tokenizer: data.tokenizer },
  );
  const tok = data.tokenizer.merges.length ? `${data.tokenizer.vocabSize} tokens (${data.tokenizer.merges.length} BPE merges)` : 'byte-level tokens';
  hooks.log(
    `model: ${model.numParameters.toLocaleString('en-US')} parameters (d ${c.model.dModel}, ${c.model.nLayers} layers, context ${c.model.maxSeqLen}, ${tok}) on ${model.device}`,
  );
  return { data, images, model };
}

/** The shapes a run's model settings must share with the backbone (maxSeqLen may be smaller). */
/** The shipped backbone (sha256 checked), after checking that the run's model settings describe it. */
async function backboneFor(c: TrainConfig, device: 'cpu' | 'cuda'): Promise<PolicyModel> {
  const model = c.model.backboneDir !== null ? await PolicyModel.load(path.resolve(c.model.backboneDir), { device }) : await loadBackbone({ device });
  const have = model.config as unknown as Record<string, unknown>;
  const want = modelConfigOf(c) as unknown as Record<string, unknown>;
  const differ = backboneMismatch(model.config, modelConfigOf(c));
  if (differ.length) {
    model.dispose();
    throw new RangeError(
      `config.model.init is 'backbone', but the model settings differ from the backbone's: ` +
        differ.map((k) => `${k} ${JSON.stringify(want[k])} (backbone: ${JSON.stringify(have[k])}${k === 'maxSeqLen' ? ' at most' : ''})`).join(', ') +
        "; set them to the backbone's, or train with --from-scratch",
    );
  }
  return model;
}

/**
 * The model's device for a requested one. The built-in model's CUDA path has not run on a GPU yet (README,
 * Status), so 'auto' keeps training on the CPU and only an explicit 'cuda' uses it.
 */
export function modelDevice(requested: TrainConfig['device'], log: (m: string) => void): 'cpu' | 'cuda' {
  const cuda = backends().cuda;
  if (requested === 'cuda') {
    if (!cuda.usable) throw new Error(`--device cuda: CUDA is not usable here (${cuda.reason ?? 'no usable GPU'})`);
    log("note: --device cuda runs the built-in model's CUDA path, which has not been verified on a GPU yet (README, Status).");
    return 'cuda';
  }
  if (requested === 'auto' && cuda.usable)
    log("note: a GPU is usable, but the built-in model's CUDA path is not verified yet, so training runs on the CPU; --device cuda uses the GPU.");
  return 'cpu';
}
