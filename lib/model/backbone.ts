/**
 * The built-in backbone shipped with the package (backbone/ at the package root): the built-in model pretrained
 * by `npm run pretrain` (lib/train/pretrain; what it learnt and its skill figures: backbone/card.md). Training
 * runs start from it the way R1-Reward starts from a pretrained VLM. Its weights are checked against the sha256
 * recorded here before they are used, so a damaged or swapped file is an error, not a silently different model.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../native/loader';
import type { ModelConfig, ModelConfigInput } from './config';
import { PolicyModel, type DeviceOptions } from './policy-model';

/** sha256 of backbone/model.safetensors (printed by `stable-reinforce pretrain --export`). */
export const BACKBONE_SHA256 = '584bb7852bb43aac466e0b1d4af1064362c40172da69bdb90c288d67d3227d93';

/** The folder of the shipped backbone. */
export function backboneDir(): string {
  return path.join(packageRoot(), 'backbone');
}

/** The sha256 of a file, in hex (the backbone's recorded hash; printed by the export). */
export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The settings that fix a model's weights' shapes and its image layout: a run from a backbone must share them. */
const BACKBONE_SHAPE = ['dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'imageSize', 'patchSize', 'imagePositions'] as const;

/**
 * The settings of `want` (a run's model settings; unset ones are free) that do not describe the backbone `have`: a
 * shape setting that differs, or a context longer than the backbone's (shorter is fine: rotary positions).
 */
export function backboneMismatch(have: ModelConfig, want: Partial<ModelConfigInput>): (keyof ModelConfig)[] {
  const w = want as Record<string, unknown>;
  const h = have as unknown as Record<string, unknown>;
  const differ: (keyof ModelConfig)[] = BACKBONE_SHAPE.filter((k) => w[k] !== undefined && w[k] !== null && w[k] !== h[k]);
  if (w.nKvHeads === undefined && have.nKvHeads !== have.nHeads) differ.push('nKvHeads');
  if (want.maxSeqLen !== undefined && want.maxSeqLen > have.maxSeqLen) differ.push('maxSeqLen');
  return differ;
}

/** Checks the shipped weights' sha256; throws naming the file and both hashes when they differ. */
export function verifyBackbone(dir: string = backboneDir(), sha256: string = BACKBONE_SHA256): void {
  const file = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(file)) throw new Error(`the built-in backbone is missing: ${file} does not exist (reinstall the package, or train with --from-scratch)`);
  const got = sha256File(file);
  if (got !== sha256) throw new Error(`the built-in backbone ${file} is damaged or not the shipped one: sha256 ${got}, expected ${sha256}`);
}

/** The shipped backbone as a new model (weights, config with its pixel statistics, tokenizer), checked first. */
export async function loadBackbone(options: DeviceOptions = {}): Promise<PolicyModel> {
  verifyBackbone();
  return PolicyModel.load(backboneDir(), options);
}
