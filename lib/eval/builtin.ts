/**
 * The built-in model as a PairJudge (`--model DIR`): ./builtin-model's factory, loaded lazily so that eval with
 * an endpoint never loads the native model. registerBuiltinPairJudge lets an application plug in another local
 * model under `--model DIR` instead.
 */
import * as fs from 'fs';
import type { BuiltinJudgeOptions, BuiltinPairJudgeFactory, PairJudge } from './types';

let factory: BuiltinPairJudgeFactory | undefined;

export function registerBuiltinPairJudge(f: BuiltinPairJudgeFactory): void {
  if (typeof f !== 'function') throw new TypeError('factory must be a function (modelDir, options) => Promise<PairJudge>');
  factory = f;
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
  if (!fs.existsSync(`${modelDir}/config.json`)) {
    throw new Error(
      `--model ${modelDir}: not a built-in model directory (no config.json; a trained model is in <run>/model). ` +
        'For a model behind an OpenAI-compatible server, add --endpoint URL.',
    );
  }
  const create = factory ?? (await import('./builtin-model')).createModelPairJudge;
  return create(modelDir, options);
}
