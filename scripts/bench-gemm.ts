/**
 * Benchmark of the CPU matrix products (npm run bench:gemm): GFLOP/s of the built-in GEMM next to OpenBLAS (when
 * a libopenblas can be loaded) and next to the machine's FMA peak measured in the same run, on the built-in
 * model's real shapes (each projection of the demo and large presets: forward Y = X W^T, and both backward
 * products dX = dY W and dW = dY^T X) and on squares 256..2048; then end-to-end training and generation tokens/s
 * of the demo and large models with each engine. Engines alternate shape by shape, so both see the same machine
 * load. Writes the "gemm" section of bench/RESULTS.md.
 *
 * Options: --json (print one JSON object with every figure, nothing else on stdout), --no-write, --quick,
 * --rows N (rows of the model shapes, default 2048 = a training batch of 16 sequences of 128 tokens).
 */
import * as fs from 'fs';
import * as os from 'os';
import { AdamW, MODEL_PRESETS, PolicyModel, Tensor, backends, setCpuGemm } from '../lib';
import type { ModelConfigInput } from '../lib';
import { modelBinding } from '../lib/model/native';
import { loadNative } from '../lib/native/loader';
import { mulberry, syntheticBatch, trainingStep } from './bench/model-batch';
import { RESULTS_FILE, today, writeSection } from './bench/results-file';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('node dist/scripts/bench-gemm.js [--json] [--no-write] [--quick] [--rows N]');
  process.exit(0);
}
const json = args.includes('--json');
const quick = args.includes('--quick');
const rowsArg = args.includes('--rows') ? Number(args[args.indexOf('--rows') + 1]) : 2048;
if (!Number.isInteger(rowsArg) || rowsArg < 1) {
  console.error(`--rows must be a positive integer, got ${args[args.indexOf('--rows') + 1]}`);
  process.exit(2);
}
const log = (msg: string) => process.stderr.write(`${msg}\n`);

type Engine = 'builtin' | 'openblas';

interface Shape {
  group: string; // 'demo' | 'large' | 'square'
  name: string; // e.g. 'q/k/v/o fwd'
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** The products of one linear layer y = x W^T (W is [out, in]) over `rows` rows, as model.cpp issues them. */
function linearShapes(group: string, name: string, rows: number, inF: number, outF: number): Shape[] {
  return [
    { group, name: `${name} fwd`, m: rows, n: outF, k: inF, transA: false, transB: true },
    { group, name: `${name} dX`, m: rows, n: inF, k: outF, transA: false, transB: false },
    { group, name: `${name} dW`, m: outF, n: inF, k: rows, transA: true, transB: false },
  ];
}

function modelShapes(group: string, config: ModelConfigInput, rows: number, vocab: number): Shape[] {
  const d = config.dModel;
  const ff = config.dFF;
  return [
    ...linearShapes(group, 'q/k/v/o', rows, d, d),
    ...linearShapes(group, 'gate/up', rows, d, ff),
    ...linearShapes(group, 'down', rows, ff, d),
    ...linearShapes(group, 'lm head', rows, d, vocab),
  ];
}

/** Median GFLOP/s of each engine on one shape, the engines interleaved run by run. */
function timeShape(s: Shape, engines: Engine[], minSeconds: number): Record<Engine, number> {
  const uniform = mulberry(s.m * 31 + s.n * 7 + s.k);
  const rand = () => uniform() - 0.5;
  const mk = (r: number, c: number) => Tensor.from(Float32Array.from({ length: r * c }, rand), [r, c]);
  const a = s.transA ? mk(s.k, s.m) : mk(s.m, s.k);
  const b = s.transB ? mk(s.n, s.k) : mk(s.k, s.n);
  const c = mk(s.m, s.n);
  const mm = modelBinding().modelMatmul;
  const flops = 2 * s.m * s.n * s.k;
  const run = (engine: Engine, reps: number) => {
    const inputs = {
      a: a.live(),
      b: b.live(),
      c: c.live(),
      transA: s.transA,
      transB: s.transB,
      alpha: 1,
      beta: 0,
      precision: 'tf32' as const,
      m: s.m,
      n: s.n,
      k: s.k,
      engine,
    };
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) mm(inputs);
    return Number(process.hrtime.bigint() - t0) / 1e9 / reps;
  };
  for (const e of engines) run(e, 2); // warm-up: pages, packing buffers, OpenBLAS's threads
  const reps = Math.max(1, Math.ceil(minSeconds / 7 / Math.max(run(engines[0], 1), 1e-7)));
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < 7; r++) for (const e of engines) (samples[e] ??= []).push(run(e, reps));
  for (const t of [a, b, c]) t.dispose();
  const out = {} as Record<Engine, number>;
  for (const e of engines) {
    const v = samples[e].sort((x, y) => x - y);
    out[e] = flops / v[Math.floor(v.length / 2)] / 1e9;
  }
  return out;
}

/** Training tokens/s (logprobs + backward + AdamW) and generation tokens/s of a model preset with the current engine. */
async function modelThroughput(config: ModelConfigInput, batch: number, seqLen: number, steps: number) {
  const model = PolicyModel.create(config, { seed: 0 });
  const rows = syntheticBatch(model, batch, seqLen, 31);
  const opt = new AdamW(model, { lr: 1e-4 });
  const step = () => trainingStep(model, opt, rows);
  await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((x, y) => x - y);
  const prompts = rows.map(({ image, prompt }) => ({ image, prompt }));
  const g0 = process.hrtime.bigint();
  const out = await model.generate(prompts, { maxNewTokens: 48, temperature: 0 });
  const genS = Number(process.hrtime.bigint() - g0) / 1e9;
  const genTokens = out.flat().reduce((n, s) => n + s.tokens.length, 0);
  opt.dispose();
  model.dispose();
  return { trainTokS: (batch * seqLen) / times[Math.floor(times.length / 2)], genTokS: genTokens / genS };
}

function nominalMHz(): number | undefined {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

async function main(): Promise<void> {
  const report = backends().cpu;
  const gemm = report.gemm;
  const engines: Engine[] = gemm.openblas.available ? ['builtin', 'openblas'] : ['builtin'];
  if (!gemm.openblas.available) log(`OpenBLAS not loadable (${gemm.openblas.reason}): built-in GEMM only`);
  const native = loadNative() as unknown as { measureFmaPeak(o: { kernel: string; threads: string; seconds: number; repeats: number }): number };
  const peakKernel = gemm.kernel === 'generic' ? undefined : gemm.kernel;
  log(`FMA peak (${peakKernel ?? 'none for the generic kernel'})...`);
  const peak = peakKernel
    ? {
        one: native.measureFmaPeak({ kernel: peakKernel, threads: 'one', seconds: 0.3, repeats: 5 }),
        all: native.measureFmaPeak({ kernel: peakKernel, threads: 'all', seconds: 0.3, repeats: 5 }),
      }
    : undefined;

  const vocab = 260 + 1024; // the demo's byte-level BPE: 256 bytes + 4 specials + model.bpeMerges (1024)
  const shapes: Shape[] = [
    ...modelShapes('demo', MODEL_PRESETS.demo, rowsArg, vocab),
    ...modelShapes('large', MODEL_PRESETS.large, rowsArg, vocab),
    ...(quick ? [256, 1024] : [256, 512, 1024, 2048]).map((n) => ({ group: 'square', name: `${n}`, m: n, n, k: n, transA: false, transB: false })),
  ];
  const minSeconds = quick ? 0.15 : 0.6;
  const rows: Array<Shape & { gflops: Record<Engine, number> }> = [];
  for (const s of shapes) {
    log(`${s.group} ${s.name} ${s.m}x${s.n}x${s.k}`);
    rows.push({ ...s, gflops: timeShape(s, engines, minSeconds) });
  }

  const e2e: Array<{ model: string; engine: Engine; trainTokS: number; genTokS: number }> = [];
  const cases: Array<[string, ModelConfigInput, number, number, number]> = [
    ['demo', MODEL_PRESETS.demo, 16, 128, quick ? 3 : 8],
    ['large', MODEL_PRESETS.large, 2, 512, quick ? 1 : 3],
  ];
  try {
    for (const [name, config, batch, seq, steps] of cases) {
      for (let round = 0; round < 2; round++) {
        // Two rounds, engines alternating, the better (less disturbed) of each engine's two kept.
        for (const engine of engines) {
          log(`${name} model, ${engine}, round ${round + 1}`);
          setCpuGemm({ engine });
          const r = await modelThroughput(config, batch, seq, steps);
          const prev = e2e.find((x) => x.model === name && x.engine === engine);
          if (!prev) e2e.push({ model: name, engine, ...r });
          else {
            prev.trainTokS = Math.max(prev.trainTokS, r.trainTokS);
            prev.genTokS = Math.max(prev.genTokS, r.genTokS);
          }
        }
      }
    }
  } finally {
    setCpuGemm({ engine: gemm.engine });
  }

  const modelRows = rows.filter((r) => r.group !== 'square');
  const ratios = gemm.openblas.available ? modelRows.map((r) => r.gflops.builtin / r.gflops.openblas) : [];
  const summary = {
    date: today(),
    command: `npm run bench:gemm${args.length ? ' -- ' + args.join(' ') : ''}`,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown CPU',
    cores: os.cpus().length,
    threads: report.threads,
    kernel: gemm.kernel,
    nominalMHz: nominalMHz(),
    loadAverage: os.loadavg()[0],
    openblas: gemm.openblas,
    peakGflops: peak,
    shapes: rows.map((r) => ({
      group: r.group,
      name: r.name,
      m: r.m,
      n: r.n,
      k: r.k,
      transA: r.transA,
      transB: r.transB,
      builtin: r.gflops.builtin,
      openblas: r.gflops.openblas,
      ratio: r.gflops.openblas ? r.gflops.builtin / r.gflops.openblas : undefined,
      ofPeak: peak ? r.gflops.builtin / peak.all : undefined,
    })),
    modelShapes: ratios.length ? { geomeanRatio: geomean(ratios), minRatio: Math.min(...ratios) } : undefined,
    endToEnd: e2e,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  }

  const f = (x: number | undefined, d = 1) => (x === undefined ? '-' : x.toFixed(d));
  const op = (r: Shape) => `${r.transA ? 'T' : 'N'}${r.transB ? 'T' : 'N'}`;
  const hasOb = gemm.openblas.available;
  const table = [
    `| shapes | product | M x N x K | op | built-in GFLOP/s | ${hasOb ? 'OpenBLAS GFLOP/s | built-in / OpenBLAS | ' : ''}built-in % of peak |`,
    `|---|---|---|---|---|${hasOb ? '---|---|' : ''}---|`,
    ...rows.map(
      (r) =>
        `| ${r.group} | ${r.name} | ${r.m} x ${r.n} x ${r.k} | ${op(r)} | ${f(r.gflops.builtin)} | ` +
        `${hasOb ? `${f(r.gflops.openblas)} | ${f(r.gflops.builtin / r.gflops.openblas, 2)} | ` : ''}${peak ? f((100 * r.gflops.builtin) / peak.all, 0) : '-'} |`,
    ),
  ];
  const e2eTable = [
    '| model | engine | training tok/s | generation tok/s |',
    '|---|---|---|---|',
    ...e2e.map((x) => `| ${x.model} | ${x.engine} | ${x.trainTokS.toFixed(0)} | ${x.genTokS.toFixed(0)} |`),
  ];
  const trainRatio = (m: string) => {
    const b = e2e.find((x) => x.model === m && x.engine === 'builtin');
    const o = e2e.find((x) => x.model === m && x.engine === 'openblas');
    return b && o ? b.trainTokS / o.trainTokS : undefined;
  };
  const section = [
    `## CPU GEMM: built-in vs OpenBLAS (${summary.date})`,
    '',
    `Machine: ${summary.cpu}, ${summary.cores} cores, ${summary.threads} threads (both engines), built-in micro-kernel \`${gemm.kernel}\`, ` +
      `nominal clock ${summary.nominalMHz ? `${summary.nominalMHz.toFixed(0)} MHz` : 'unknown'}, load average ${summary.loadAverage.toFixed(2)} at the end (a shared machine). ` +
      `OpenBLAS: ${hasOb ? `\`${gemm.openblas.path}\` (loaded at run time)` : `not loadable (${gemm.openblas.reason})`}. Command: \`${summary.command}\`.`,
    '',
    peak
      ? `Peak: the measured FMA throughput of \`${peakKernel}\` (independent FMA chains on every thread; the hypervisor's nominal clock understates the boost clock): ` +
        `${f(peak.one)} GFLOP/s on 1 thread, ${f(peak.all)} GFLOP/s on ${summary.threads}. "% of peak" is of the latter.`
      : 'Peak: not measured for the generic kernel.',
    `Model shapes: ${rowsArg} rows (a training batch of tokens); fwd = X W^T, dX = dY W, dW = dY^T X; lm head vocabulary ${vocab} (BPE). Median of 7 timed runs per engine, engines interleaved.`,
    ratios.length
      ? `**Model shapes: built-in / OpenBLAS geometric mean ${f(summary.modelShapes!.geomeanRatio, 2)}, worst ${f(summary.modelShapes!.minRatio, 2)}** (goal >= 0.90, at least 0.80).`
      : '',
    '',
    ...table,
    '',
    `End to end (training step = logprobs + backward + AdamW; demo batch 16 x 128, large 2 x 512; generation greedy with the KV cache, 48 new tokens; best of two alternating rounds):` +
      (trainRatio('demo') ? ` training tok/s built-in / OpenBLAS: demo ${f(trainRatio('demo'), 2)}, large ${f(trainRatio('large'), 2)}.` : ''),
    '',
    ...e2eTable,
    '',
  ].join('\n');
  if (!json) process.stdout.write(`${section}\n`);
  if (!args.includes('--no-write')) {
    writeSection('gemm', section);
    log(`wrote ${RESULTS_FILE}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
