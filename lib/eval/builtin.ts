/**
 * The built-in model as a PairJudge (`--model DIR`). The model (issue 3) does not exist yet, so no
 * implementation is registered and `createBuiltinPairJudge` says so. To plug it in, the model code calls
 * `registerBuiltinPairJudge(factory)`, and BUILTIN_MODULE below names that module so the CLI loads it.
 */
import * as fs from 'fs';
import type { PairJudge } from './types';

export interface BuiltinJudgeOptions {
  /** 'auto' | 'cpu' | 'cuda' as the rest of the library understands it. */
  device?: string;
  /** Upper bound on generated tokens. */
  maxTokens?: number;
}

export type BuiltinPairJudgeFactory = (modelDir: string, options: BuiltinJudgeOptions) => Promise<PairJudge>;

/** Module (relative to this file) that registers the built-in model when imported; null until it exists. */
const BUILTIN_MODULE: string | null = null;

let factory: BuiltinPairJudgeFactory | undefined;

export function registerBuiltinPairJudge(f: BuiltinPairJudgeFactory): void {
  if (typeof f !== 'function') throw new TypeError('factory must be a function (modelDir, options) => Promise<PairJudge>');
  factory = f;
}

export class BuiltinModelUnavailableError extends Error {
  constructor(dir: string) {
    super(
      `--model ${dir}: the built-in model backend is not available in this version yet (it arrives with the ` +
        'built-in model). Evaluate through an OpenAI-compatible server instead: --endpoint URL --model NAME ' +
        '(e.g. R1-Reward served by vLLM).',
    );
    this.name = 'BuiltinModelUnavailableError';
  }
}

export async function createBuiltinPairJudge(modelDir: string, options: BuiltinJudgeOptions = {}): Promise<PairJudge> {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(modelDir);
  } catch {
    stat = undefined;
  }
  if (!stat?.isDirectory()) {
    throw new Error(
      `--model ${modelDir}: no such model directory. For a model behind an OpenAI-compatible server, ` +
        'add --endpoint URL (then --model is the served model name).',
    );
  }
  if (!factory && BUILTIN_MODULE) await import(BUILTIN_MODULE);
  if (!factory) throw new BuiltinModelUnavailableError(modelDir);
  return factory(modelDir, options);
}
