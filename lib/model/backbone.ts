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
import { PolicyModel, type DeviceOptions } from './policy-model';

/** sha256 of backbone/model.safetensors (printed by `stable-reinforce pretrain --export`). */
export const BACKBONE_SHA256 = '653081b10a2757797c8a90350f51b2e7547a72cfa2fe99ce11f37b08d00e32c3';

/** The folder of the shipped backbone. */
export function backboneDir(): string {
  return path.join(packageRoot(), 'backbone');
}

/** The sha256 of a file, in hex (the backbone's recorded hash; printed by the export). */
export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
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
