#!/usr/bin/env node
/**
 * A training-like writer for the checkpoint crash-point test: logs steps 1..6 to RUN/metrics.jsonl, takes a
 * checkpoint after steps 2, 4 and 6, and kills itself with SIGKILL at POINT of the checkpoint write number
 * CRASH_AT (1-based): a real kill -9 at that step of the write sequence. TypeScript sources are transpiled on
 * require, like run-cli.js.
 *   node checkpoint-crash-child.js RUN POINT CRASH_AT
 */
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};

const { AdamW, PolicyModel, meanNllGradient } = require('../../../lib/model/index.ts');
const { initialCheckpointState, saveCheckpoint } = require('../../../lib/train/checkpoint.ts');
const { MetricsLog } = require('../../../lib/train/metrics.ts');
const { openRunFolder } = require('../../../lib/train/run-folder.ts');

const [runDir, point, crashAt] = process.argv.slice(2);
const CFG = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 8, patchSize: 4, maxSeqLen: 64 };

(async () => {
  const folder = openRunFolder(runDir, { resume: false });
  fs.writeFileSync(path.join(runDir, 'config.json'), '{}\n');
  const model = PolicyModel.create(CFG, { seed: 1 });
  const opt = new AdamW(model, { lr: 1e-2 });
  const metrics = new MetricsLog(path.join(runDir, 'metrics.jsonl'), 0, 0);
  let writes = 0;
  for (let step = 1; step <= 6; step++) {
    const r = await model.logprobs([{ prompt: 'p\n', response: `<answer>${(step % 2) + 1}</answer>` }]);
    await model.backward(meanNllGradient(r).grad);
    opt.step();
    model.zeroGrad();
    metrics.append({ stage: 'sft', step, globalStep: step, loss: meanNllGradient(r).loss });
    if (step % 2 !== 0) continue;
    metrics.sync();
    const fresh = initialCheckpointState(0);
    const state = {
      ...fresh,
      step,
      optimizerSteps: opt.stepCount,
      rng: { ...fresh.rng, nextStep: step },
      metricsBytes: metrics.bytes,
      metricsLines: metrics.lines,
    };
    const n = ++writes;
    await saveCheckpoint(runDir, `sft-${String(step).padStart(6, '0')}`, model, opt, state, [], (p) => {
      if (n === Number(crashAt) && p === point) process.kill(process.pid, 'SIGKILL');
    });
  }
  metrics.close();
  folder.release();
})().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exitCode = 1;
});
