/**
 * Benchmark of the built-in policy model (npm run bench:model): training
 * tokens/s (forward + backward + AdamW) and generation tokens/s (KV cache,
 * greedy), for the demo config and a larger one (d = 512, 8 layers, sequence
 * 512), next to the same architecture in PyTorch eager on the CPU with the same
 * thread count, in the same invocation. Appends a dated "## Built-in model"
 * section to bench/RESULTS.md (replacing its own earlier section only).
 *
 * With --device cuda (or all) the built-in model also runs on the GPU (TF32 tensor-core products), next to
 * PyTorch eager on the GPU when the local torch has CUDA; those rows go to their own "model-cuda" section.
 *
 * Options: --quick (fewer steps), --no-write (print only), --only demo|large, --device cpu|cuda|all (default cpu).
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { AdamW, MODEL_PRESETS, PolicyModel, backends, synchronize } from '../lib';
import type { ModelConfigInput } from '../lib';
import { packageRoot } from '../lib/native/loader';
import { syntheticBatch, trainingStep } from './bench/model-batch';
import { RESULTS_FILE, writeSection } from './bench/results-file';

interface Case {
  name: string;
  config: ModelConfigInput;
  batch: number;
  seqLen: number;
  promptLen: number;
  steps: number;
  genBatch: number;
  genTokens: number;
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('node dist/scripts/bench-model.js [--quick] [--no-write] [--only demo|large] [--device cpu|cuda|all]');
  process.exit(0);
}
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const deviceArg = args.includes('--device') ? args[args.indexOf('--device') + 1] : 'cpu';
if (!['cpu', 'cuda', 'all'].includes(deviceArg)) {
  console.error(`--device must be cpu, cuda or all, got ${deviceArg}`);
  process.exit(2);
}
type BenchDevice = 'cpu' | 'cuda';
const DEVICES: BenchDevice[] = deviceArg === 'all' ? ['cpu', 'cuda'] : [deviceArg as BenchDevice];
if (DEVICES.includes('cuda') && !backends().cuda.usable) {
  console.error(`--device ${deviceArg}: CUDA is not usable: ${backends().cuda.reason}`);
  process.exit(2);
}

const CASES: Case[] = [
  { name: 'demo', config: MODEL_PRESETS.demo, batch: 8, seqLen: 128, promptLen: 31, steps: quick ? 3 : 10, genBatch: 8, genTokens: 64 },
  {
    name: 'large (d=512, 8 layers, seq 512)',
    config: { ...MODEL_PRESETS.large },
    batch: 2,
    seqLen: 512,
    promptLen: 63,
    steps: quick ? 1 : 3,
    genBatch: 4,
    genTokens: 64,
  },
].filter((c) => !only || c.name.startsWith(only));

async function runNative(c: Case, device: BenchDevice): Promise<{ trainTokS: number; genTokS: number; genTokens: number; stepS: number }> {
  const model = PolicyModel.create(c.config, { seed: 0, device });
  const batch = syntheticBatch(model, c.batch, c.seqLen, c.promptLen);
  const opt = new AdamW(model, { lr: 1e-4 });
  const step = () => trainingStep(model, opt, batch);
  await step();
  synchronize();
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < c.steps; s++) await step();
  synchronize();
  const stepS = Number(process.hrtime.bigint() - t0) / 1e9 / c.steps;
  const prompts = batch.slice(0, c.genBatch).map(({ image, prompt }) => ({ image, prompt }));
  while (prompts.length < c.genBatch) prompts.push({ ...prompts[prompts.length % c.batch] });
  await model.generate(prompts, { maxNewTokens: 4, temperature: 0 });
  const g0 = process.hrtime.bigint();
  const out = await model.generate(prompts, { maxNewTokens: c.genTokens, temperature: 0 });
  const genS = Number(process.hrtime.bigint() - g0) / 1e9;
  const genTokens = out.flat().reduce((a, s) => a + s.tokens.length, 0);
  opt.dispose();
  model.dispose();
  return { trainTokS: (c.batch * c.seqLen) / stepS, genTokS: genTokens / genS, genTokens, stepS };
}

interface TorchResult {
  trainStepSeconds: number;
  trainTokens: number;
  genSeconds: number;
  genTokens: number;
  torch: string;
  threads: number;
  maxRssMiB?: number;
}

function runTorch(c: Case, threads: number, device: BenchDevice): TorchResult | string {
  const script = path.join(packageRoot(), 'test', 'model', 'torch_reference.py');
  const cfg = { nKvHeads: c.config.nHeads, ropeTheta: 10000, normEps: 1e-5, ...c.config };
  const r = spawnSync('/usr/bin/python3', [script, 'bench'], {
    input: JSON.stringify({
      config: cfg,
      batch: c.batch,
      seqLen: c.seqLen,
      promptLen: c.promptLen,
      steps: c.steps,
      genBatch: c.genBatch,
      genTokens: c.genTokens,
      threads,
      device,
    }),
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) return `PyTorch run failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as TorchResult;
}

async function main(): Promise<void> {
  const threads = backends().cpu.threads;
  const lines: string[] = [];
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const cudaRows = DEVICES.includes('cuda');
  lines.push(
    `| config | params | ${cudaRows ? 'device | ' : ''}train batch x seq | native train tok/s | PyTorch train tok/s | ratio | native gen tok/s | PyTorch gen tok/s | ratio |`,
  );
  lines.push(`|---|---|${cudaRows ? '---|' : ''}---|---|---|---|---|---|---|`);
  for (const c of CASES) {
    const m = PolicyModel.create(c.config);
    const params = m.numParameters;
    m.dispose();
    for (const device of DEVICES) {
      process.stderr.write(`${c.name} [${device}]: native...\n`);
      const n = await runNative(c, device);
      process.stderr.write(`${c.name} [${device}]: PyTorch...\n`);
      const t = runTorch(c, threads, device);
      const tt = typeof t === 'string' ? null : t;
      const tTrain = tt ? tt.trainTokens / tt.trainStepSeconds : NaN;
      const tGen = tt ? tt.genTokens / tt.genSeconds : NaN;
      const dev = cudaRows ? `${device === 'cuda' ? `cuda (${backends().cuda.name}, TF32)` : 'cpu'} | ` : '';
      lines.push(
        `| ${c.name} | ${(params / 1e6).toFixed(2)} M | ${dev}${c.batch} x ${c.seqLen} | ${fmt(n.trainTokS)} | ${tt ? fmt(tTrain) : t} | ${tt ? (n.trainTokS / tTrain).toFixed(2) : '-'} | ` +
          `${fmt(n.genTokS)} | ${tt ? fmt(tGen) : '-'} | ${tt ? (n.genTokS / tGen).toFixed(2) : '-'} |`,
      );
      if (tt) process.stderr.write(`  PyTorch ${tt.torch}, ${tt.threads} threads, ${device}\n`);
    }
  }
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    '',
    `## Built-in model${cudaRows ? ' on CUDA' : ''} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpu}, ${os.cpus().length} cores (${threads} threads used by both engines; CPU GEMM ${backends().cpu.gemm.engine} ${backends().cpu.gemm.kernel}), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${os.loadavg()[0].toFixed(2)} at the end (a shared machine: other work ran meanwhile). ` +
      `Node ${process.version}. Command: \`npm run bench:model${args.length ? ' -- ' + args.join(' ') : ''}\`.`,
    'Training step = logprobs + backward (mean NLL of the response tokens) + AdamW (clipping at 1); tokens = batch x sequence (image tokens included). ' +
      'Generation = greedy, KV cache, batch of prompts, tokens actually produced per second (prefill included). PyTorch: the same architecture in eager f32 ' +
      '(test/model/torch_reference.py; padded, no packing needed since all sequences have one length), torch.optim.AdamW, same thread count' +
      (cudaRows ? '; on the GPU, PyTorch eager f32 with its default matmul precision (cuBLAS), the native model with TF32 tensor-core products.' : '.'),
    '',
    ...lines,
    '',
    `Peak RSS of the Node process (native runs, all configs): ${rssMiB.toFixed(0)} MiB.`,
    '',
  ].join('\n');
  process.stdout.write(section);
  if (!args.includes('--no-write')) {
    writeSection(cudaRows ? 'model-cuda' : 'model', section);
    process.stderr.write(`wrote ${RESULTS_FILE}\n`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
