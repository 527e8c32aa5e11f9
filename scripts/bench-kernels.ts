/**
 * Kernel benchmarks: every case in scripts/bench/cases/*.ts, on the CPU and (when usable) the GPU, side by side in
 * one run with a plain TypeScript version, PyTorch eager (and torch.compile on GPU) when a python3 with torch is found,
 * and the memory floor (bytes the kernel must move / copy bandwidth measured in this run). Medians throughout.
 *
 *   npm run bench [-- --kernel policyLoss,tokenLogprobs] [--size 2^10,2^16] [--device cpu|cuda|all]
 *                 [--min-seconds 0.5] [--no-torch] [--no-ts] [--no-write] [--max-mb 2048]
 * --size keeps the cases whose size label starts with N=2^k (the element-wise kernels').
 * Results: printed, and written to bench/RESULTS.md (one section per device). Each row names the run that measured
 * it; a run with --kernel or --size replaces only its own rows there and keeps the others with their runs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backends } from '../lib';
import type { Device } from '../lib';
import { loadNative } from '../lib/native/loader';
import { machineDescription, readSection, today, writeSection } from './bench/results-file';
import type { BenchCase, Runnable } from './bench/types';

interface Args {
  kernels?: string[];
  sizes?: string[];
  devices: Device[];
  minSeconds: number;
  torch: boolean;
  ts: boolean;
  write: boolean;
  maxBytes: number;
}

function parseArgs(argv: string[]): Args {
  const cuda = backends().cuda.usable;
  const args: Args = { devices: cuda ? ['cpu', 'cuda'] : ['cpu'], minSeconds: 0.5, torch: true, ts: true, write: true, maxBytes: 2048e6 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--kernel') args.kernels = next().split(',');
    else if (a === '--size') {
      args.sizes = next()
        .split(',')
        .map((v) => {
          const k = /^(?:2\^)?(\d+)$/.exec(v.trim());
          if (!k) throw new Error(`--size takes log2 sizes like 2^16 or 16, got ${v}`);
          return `N=2^${k[1]}`;
        });
    } else if (a === '--device') {
      const d = next();
      if (d === 'all') continue;
      if (d !== 'cpu' && d !== 'cuda') throw new Error(`--device must be cpu, cuda or all`);
      if (d === 'cuda' && !cuda) throw new Error(`--device cuda: ${backends().cuda.reason}`);
      args.devices = [d];
    } else if (a === '--min-seconds') args.minSeconds = Number(next());
    else if (a === '--max-mb') args.maxBytes = Number(next()) * 1e6;
    else if (a === '--no-torch') args.torch = false;
    else if (a === '--no-ts') args.ts = false;
    else if (a === '--no-write') args.write = false;
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function loadCases(): BenchCase[] {
  const dir = path.join(__dirname, 'bench', 'cases');
  const all: BenchCase[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.js')) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- every case file in the folder
    const mod = require(path.join(dir, f)) as { cases?: BenchCase[] };
    if (Array.isArray(mod.cases)) all.push(...mod.cases);
  }
  return all;
}

/** Median milliseconds of `r.run()` after warm-up, sampling for at least minSeconds (5 to 200 samples). */
function timeMs(r: Runnable, minSeconds: number): number {
  for (let i = 0; i < 2; i++) r.run();
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  while (samples.length < 5 || (elapsed() < minSeconds && samples.length < 200)) {
    const t0 = process.hrtime.bigint();
    r.run();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function findTorchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return `${py} (torch ${r.stdout.trim()})`;
  }
  return undefined;
}

interface TorchResult {
  eager_ms: number | null;
  compile_ms: number | null;
  error: string | null;
}

function runTorch(python: string, device: Device, items: Array<{ id: string; c: BenchCase }>, minSeconds: number) {
  const job = {
    device,
    threads: backends().cpu.threads,
    cases: items.map(({ id, c }) => ({ id, setup: c.torch!.setup, step: c.torch!.step, compile: !!c.torch!.compile, min_seconds: minSeconds })),
  };
  const runner = path.join(__dirname, '..', '..', 'scripts', 'bench', 'torch_runner.py');
  const r = spawnSync(python.split(' ')[0], [runner], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 26 });
  const out = new Map<string, TorchResult>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line);
      out.set(j.id, j);
    } catch {
      /* not a result line */
    }
  }
  if (r.status !== 0) console.error(`torch runner exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  return out;
}

/** One benchmark invocation whose rows are in a section: the rows' last column is its id. */
interface RunInfo {
  id: string;
  date: string;
  machine: string;
  command: string;
  copyGBs: number;
  torch: string;
  /** 1-minute load average at the start and the end of the run (other work on the machine skews timings). */
  load?: [number, number];
}

// The runs of a section are kept in it as JSON, so that a partial run can keep the other rows with their origin.
const RUNS_MARK = /<!-- runs: (.*) -->/;

function sizeMatches(label: string, sizes: string[]): boolean {
  return sizes.some((s) => label === s || label.startsWith(`${s} `));
}

/** The data rows of a section's table (cells, without the header and separator). */
function tableRows(section: string): string[][] {
  const lines = section.split('\n').filter((l) => l.startsWith('| '));
  return lines.slice(2).map((l) => l.slice(2, -2).split(' | '));
}

function renderSection(device: Device, runs: RunInfo[], head: string[], rows: string[][]): string {
  const table = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const runLines = runs
    .map(
      (r) =>
        `  - ${r.id}: ${r.date}; ${r.machine}${r.load ? `, 1-min load average ${r.load[0].toFixed(2)} at the start, ${r.load[1].toFixed(2)} at the end` : ''}; ` +
        `\`${r.command}\`; copy bandwidth (read + write) ${r.copyGBs.toFixed(1)} GB/s; PyTorch: ${r.torch}`,
    )
    .join('\n');
  return (
    `## Kernels, ${device.toUpperCase()}\n\n` +
    `- runs (the last column says which run measured a row):\n${runLines}\n` +
    `- "of floor" = (bytes the kernel must move / copy bandwidth measured in the row's run) / median time\n` +
    `- baselines, timed in the same run as the row: plain TypeScript loop (CPU rows only); PyTorch eager with the same thread count` +
    `${device === 'cuda' ? ', and torch.compile' : ''}\n` +
    `<!-- runs: ${JSON.stringify(runs)} -->\n\n` +
    table +
    '\n'
  );
}

const fmt = (ms: number | null | undefined) => (ms == null ? '-' : ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0));
const ratio = (base: number | null | undefined, ours: number) => (base == null ? '-' : `${(base / ours).toFixed(1)}x`);

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const info = backends();
  const python = args.torch ? findTorchPython() : undefined;
  const native = loadNative() as unknown as { measureCopyBandwidth(args: { device: string; bytes: number; repeats: number }): number };
  const everyCase = loadCases();
  const allCases = everyCase.filter((c) => (!args.kernels || args.kernels.includes(c.kernel)) && (!args.sizes || sizeMatches(c.label, args.sizes)));
  if (!allCases.length) throw new Error('no benchmark case matches --kernel / --size');
  const command = `node ${path.relative(process.cwd(), __filename)} ${process.argv.slice(2).join(' ')}`.trim();

  for (const device of args.devices) {
    const loadAtStart = os.loadavg()[0];
    const cases = allCases.filter((c) => c.devices.includes(device) && c.bytes <= args.maxBytes * (device === 'cuda' ? 16 : 1));
    const copyGBs = native.measureCopyBandwidth({ device, bytes: device === 'cuda' ? 2e9 : 256e6, repeats: device === 'cuda' ? 20 : 10 });
    const where = device === 'cuda' ? `${info.cuda.name} (CC ${info.cuda.computeCapability})` : machineDescription();
    console.log(`\n${device.toUpperCase()}: ${where}\ncopy bandwidth (read + write): ${copyGBs.toFixed(1)} GB/s; torch: ${python ?? 'not found'}`);

    const rows: string[][] = [];
    const torchItems = cases.filter((c) => c.torch).map((c, i) => ({ id: `${i}`, c }));
    const torchResults = python && torchItems.length ? runTorch(python, device, torchItems, args.minSeconds) : new Map();
    for (const c of cases) {
      const r = c.native(device);
      let ms: number;
      try {
        ms = timeMs(r, args.minSeconds);
      } finally {
        r.dispose?.();
      }
      let tsMs: number | null = null;
      if (args.ts && device === 'cpu' && c.plainTs) {
        const p = c.plainTs();
        tsMs = timeMs(p, args.minSeconds);
        p.dispose?.();
      }
      const tItem = torchItems.find((t) => t.c === c);
      const t: TorchResult | undefined = tItem ? torchResults.get(tItem.id) : undefined;
      if (t?.error) console.error(`torch ${c.kernel} ${c.label}: ${t.error}`);
      const gbs = c.bytes / (ms / 1e3) / 1e9;
      const floorMs = (c.bytes / (copyGBs * 1e9)) * 1e3;
      const row = [
        c.kernel,
        c.label,
        fmt(ms),
        gbs.toFixed(1),
        `${((floorMs / ms) * 100).toFixed(0)}%`,
        tsMs == null ? '-' : `${fmt(tsMs)} (${ratio(tsMs, ms)})`,
        t?.eager_ms == null ? '-' : `${fmt(t.eager_ms)} (${ratio(t.eager_ms, ms)})`,
        ...(device === 'cuda' ? [t?.compile_ms == null ? '-' : `${fmt(t.compile_ms)} (${ratio(t.compile_ms, ms)})`] : []),
      ];
      rows.push(row);
      console.log(row.join(' | '));
    }

    const head = ['kernel', 'size', 'median ms', 'GB/s', 'of floor', 'plain TS ms (ours faster by)', 'PyTorch eager ms (ours faster by)'];
    if (device === 'cuda') head.push('torch.compile ms (ours faster by)');
    head.push('run');
    const key = (r: string[]) => `${r[0]}|${r[1]}`;
    // A partial run keeps the section's other rows, and the runs they came from.
    let keptRows: string[][] = [];
    let runs: RunInfo[] = [];
    const previous = args.kernels || args.sizes ? readSection(`kernels-${device}`) : undefined;
    const mark = previous ? RUNS_MARK.exec(previous) : null;
    if (previous && mark) {
      const measured = new Set(rows.map(key));
      keptRows = tableRows(previous).filter((r) => r.length === head.length && !measured.has(key(r)));
      runs = (JSON.parse(mark[1]) as RunInfo[]).filter((run) => keptRows.some((r) => r[r.length - 1] === run.id));
    } else if (previous) {
      console.warn(`bench/RESULTS.md: the kernels-${device} section does not list its runs (older format): this run replaces it whole`);
    }
    const id = String(Math.max(0, ...runs.map((r) => Number(r.id) || 0)) + 1); // later runs, higher numbers
    runs.push({
      id,
      date: today(),
      machine: where,
      command,
      copyGBs,
      torch: python ? `${python}, threads = ${info.cpu.threads}` : 'not found (no python3 with torch)',
      load: [loadAtStart, os.loadavg()[0]],
    });
    const order = everyCase.map((c) => `${c.kernel}|${c.label}`);
    const rank = (r: string[]) => {
      const i = order.indexOf(key(r));
      return i < 0 ? order.length : i; // rows of cases that no longer exist go last
    };
    const merged = [...keptRows, ...rows.map((r) => [...r, id])].sort((a, b) => rank(a) - rank(b));
    const md = renderSection(device, runs, head, merged);
    console.log('\n' + md);
    if (args.write) writeSection(`kernels-${device}`, md);
  }
}

main();
