import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PolicyModel } from '../../lib/model';
import { writeSynthetic } from '../../lib/data/synth';
import { createBuiltinPairJudge } from '../../lib/eval/builtin';
import { runEval } from '../../lib/eval/runner';

// `eval --model DIR` on the built-in model: an untrained tiny model, so the point is the plumbing (image,
// prompt, K samples, reproducibility, parse failures counted), not its accuracy.
describe('the built-in model as a PairJudge', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-builtin-'));
  const modelDir = path.join(root, 'model');
  const dataDir = path.join(root, 'data');

  beforeAll(async () => {
    const model = PolicyModel.create({ dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, imageSize: 48, patchSize: 16, maxSeqLen: 512 }, { seed: 3 });
    await model.save(modelDir);
    model.dispose();
    await writeSynthetic(dataDir, { n: 10, seed: 5, levels: [1], testFraction: 0.5 });
  });

  test('samples K outputs per pair, reproducibly, and eval counts what does not parse', async () => {
    const judge = await createBuiltinPairJudge(modelDir, { device: 'cpu', maxTokens: 24 });
    const rows = fs
      .readFileSync(path.join(dataDir, 'test.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const pair = {
      question: rows[0].question,
      response1: rows[0].response1,
      response2: rows[0].response2,
      media: { kind: 'image' as const, path: path.join(dataDir, rows[0].image) },
    };
    const a = await judge.judge(pair, { samples: 3, temperature: 1 });
    const b = await judge.judge(pair, { samples: 3, temperature: 1 });
    expect(a).toHaveLength(3);
    expect(a).toEqual(b); // seeds derive from the pair
    // Nucleus sampling reaches the model: with only the most likely token left, a hot sample is the greedy output.
    const [greedy] = await judge.judge(pair, { samples: 1, temperature: 0 });
    expect(await judge.judge(pair, { samples: 2, temperature: 2, topP: 1e-6 })).toEqual([greedy, greedy]);
    expect(await judge.judge(pair, { samples: 2, temperature: 2 })).not.toEqual([greedy, greedy]);
    await expect(judge.judge({ ...pair, media: { kind: 'video', path: 'x.mp4' } }, { samples: 1, temperature: 1 })).rejects.toThrow(/images only/);

    const result = await runEval({
      bench: 'synthetic',
      data: path.join(dataDir, 'test.jsonl'),
      judge,
      model: modelDir,
      samples: 2,
      out: path.join(root, 'eval'),
    });
    await judge.close?.();
    const summary = JSON.parse(fs.readFileSync(path.join(root, 'eval', 'summary.json'), 'utf8'));
    expect(summary.pairs).toBe(rows.length);
    expect(Object.keys(summary.votingAtK)).toEqual(['1', '2']);
    expect(summary.samples).toBe(2);
    // Every sample is recorded: one prediction line per pair and sample, each with the raw output.
    const lines = fs
      .readFileSync(path.join(root, 'eval', 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(rows.length * 2);
    expect(result.summary.parseFailures.count).toBe(summary.parseFailures.count);
  });

  test('a folder without a model is a clear error', async () => {
    await expect(createBuiltinPairJudge(dataDir)).rejects.toThrow(/not a built-in model directory/);
  });
});
