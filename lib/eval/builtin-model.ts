/**
 * The built-in model (lib/model) as a PairJudge, for `eval --model DIR` and the service's /score. It shows
 * the model the same compact prompt the trainer used (./prompt.ts promptOf) and samples with
 * the KV cache. Seeds derive from the pair's text, so a rerun of the same evaluation reproduces its samples.
 */
import { createHash } from 'crypto';
import { PolicyModel } from '../model';
import { promptOf } from './prompt';
import type { BuiltinJudgeOptions, JudgeOptions, JudgePair, PairJudge } from './types';

function pairSeed(pair: JudgePair): number {
  const h = createHash('sha256').update(`${pair.question}\0${pair.response1}\0${pair.response2}\0${pair.media?.path ?? ''}`);
  return h.digest().readUInt32LE(0);
}

/** The model saved in `modelDir` as a PairJudge (createBuiltinPairJudge's default factory). */
export async function createModelPairJudge(modelDir: string, options: BuiltinJudgeOptions): Promise<PairJudge> {
  const device = (options.device ?? 'auto') as 'auto' | 'cpu' | 'cuda';
  const model = await PolicyModel.load(modelDir, { device });
  const maxNewTokens = Math.max(1, Math.min(options.maxTokens ?? 1024, model.config.maxSeqLen));
  const judge: PairJudge = {
    name: `builtin:${modelDir}`,
    async judge(pair: JudgePair, opts: JudgeOptions): Promise<string[]> {
      if (pair.media && pair.media.kind !== 'image') throw new Error('the built-in model reads images only, not video');
      if (pair.media && !pair.media.path) throw new Error('the built-in model needs a local image file (media.path)');
      if (opts.signal?.aborted) throw new Error('aborted');
      const [samples] = await model.generate([{ image: pair.media?.path ?? null, prompt: promptOf(pair) }], {
        n: opts.samples,
        temperature: opts.temperature,
        topP: opts.topP,
        maxNewTokens,
        seed: pairSeed(pair),
      });
      return samples.map((s) => s.text);
    },
    async close() {
      model.dispose();
    },
  };
  return judge;
}
