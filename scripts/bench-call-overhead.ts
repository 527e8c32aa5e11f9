/**
 * Per-call time of the element-wise kernels at small sizes, where fixed costs (argument checks, output allocation,
 * thread-pool wake-up) weigh as much as the arithmetic. Uses the benchmark cases' own inputs and calls
 * (scripts/bench/cases), timing every call on its own and reporting the median, with minor page faults per call.
 *
 *   node dist/scripts/bench-call-overhead.js [--native old.node,new.node] [--kernel preClipRatio,policyLoss]
 *        [--sizes 10,14,16,20] [--threads 1,2] [--rounds 5] [--min-seconds 0.3]
 *
 * Several --native binaries (and/or SR_NUM_THREADS values) are compared in one run: each round runs every
 * configuration in a fresh child process (alternating their order), so all see the same machine load; a cell is
 * the median over rounds of the round medians. Nothing is written to bench/RESULTS.md (that is bench-kernels' job).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import type { BenchCase } from './bench/types';

const KERNELS = ['preClipRatio', 'advantageFilter', 'policyLoss'] as const;
type Kernel = (typeof KERNELS)[number];
const CASE_FILES: Record<Kernel, string> = {
  preClipRatio: 'preclip-ratio',
  advantageFilter: 'advantage-filter',
  policyLoss: 'policy-loss',
};

interface Args {
  natives: string[];
  threads: string[];
  kernels: Kernel[];
  sizes: number[];
  rounds: number;
  minSeconds: number;
  child: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { natives: [], threads: [], kernels: [...KERNELS], sizes: [10, 14, 16, 20], rounds: 5, minSeconds: 0.3, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--native')
      args.natives = next()
        .split(',')
        .map((f) => path.resolve(f));
    else if (a === '--threads') args.threads = next().split(',');
    else if (a === '--kernel') {
      args.kernels = next().split(',') as Kernel[];
      for (const k of args.kernels) if (!KERNELS.includes(k)) throw new Error(`--kernel: ${k} is not one of ${KERNELS.join(', ')}`);
    } else if (a === '--sizes') {
      args.sizes = next().split(',').map(Number);
      // policyLoss uses rows of 1024 tokens.
      if (args.sizes.some((s) => !Number.isInteger(s) || s < 10 || s > 26)) throw new Error('--sizes: log2 sizes from 10 to 26');
    } else if (a === '--rounds') args.rounds = Number(next());
    else if (a === '--min-seconds') args.minSeconds = Number(next());
    else if (a === '--child') args.child = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface Cell {
  kernel: Kernel;
  log2n: number;
  medianUs: number;
  faultsPerCall: number;
}

/** Median microseconds of single calls (after warm-up), sampling for at least minSeconds, 20 to 20000 samples. */
function measure(c: BenchCase, minSeconds: number): { medianUs: number; faultsPerCall: number } {
  const r = c.native('cpu');
  try {
    for (let i = 0; i < 20; i++) r.run();
    const samples: number[] = [];
    const faults0 = process.resourceUsage().minorPageFault;
    const start = process.hrtime.bigint();
    while (samples.length < 20 || (Number(process.hrtime.bigint() - start) / 1e9 < minSeconds && samples.length < 20000)) {
      const t0 = process.hrtime.bigint();
      r.run();
      samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    const faults = process.resourceUsage().minorPageFault - faults0;
    samples.sort((x, y) => x - y);
    return { medianUs: samples[samples.length >> 1], faultsPerCall: faults / samples.length };
  } finally {
    r.dispose?.();
  }
}

async function child(args: Args): Promise<void> {
  for (const kernel of args.kernels) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the case file named on the command line
    const mod = require(path.join(__dirname, 'bench', 'cases', CASE_FILES[kernel])) as { makeCase(log2n: number): BenchCase };
    for (const log2n of args.sizes) {
      const cell: Cell = { kernel, log2n, ...measure(mod.makeCase(log2n), args.minSeconds) };
      console.log(JSON.stringify(cell));
      // Lets N-API finalizers of the handles made above run before the next case (they run between turns).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Config {
  native: string; // '' = the default binary
  threads: string; // '' = SR_NUM_THREADS as inherited
  name: string;
}

function parent(args: Args): void {
  const natives = args.natives.length ? args.natives : [process.env.STABLE_REINFORCE_NATIVE ?? ''];
  const threads = args.threads.length ? args.threads : [''];
  const configs: Config[] = natives.flatMap((native) =>
    threads.map((t) => ({
      native,
      threads: t,
      name: `${native ? path.relative(process.cwd(), native) : 'default binary'}${t ? ` threads=${t}` : ''}`,
    })),
  );
  const results = new Map<string, Cell[]>(); // `${config}|${kernel}|${log2n}` -> one cell per round
  const childArgs = ['--child', '--kernel', args.kernels.join(','), '--sizes', args.sizes.join(','), '--min-seconds', String(args.minSeconds)];
  for (let round = 0; round < args.rounds; round++) {
    const order = round % 2 ? [...configs].reverse() : configs;
    for (const config of order) {
      const env = { ...process.env };
      if (config.native) env.STABLE_REINFORCE_NATIVE = config.native;
      if (config.threads) env.SR_NUM_THREADS = config.threads;
      const r = spawnSync(process.execPath, [__filename, ...childArgs], { env, encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`child for ${config.name} failed: ${r.stderr}`);
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const cell = JSON.parse(line) as Cell;
        const key = `${config.name}|${cell.kernel}|${cell.log2n}`;
        results.set(key, [...(results.get(key) ?? []), cell]);
      }
    }
    process.stderr.write(`round ${round + 1}/${args.rounds} done\n`);
  }
  const head = ['kernel', 'N', ...configs.flatMap((c) => [`${c.name} us/call`, 'faults/call'])];
  const rows = [head, head.map(() => '---')];
  for (const kernel of args.kernels) {
    for (const log2n of args.sizes) {
      const row = [kernel, `2^${log2n}`];
      for (const config of configs) {
        const cells = results.get(`${config.name}|${kernel}|${log2n}`) ?? [];
        row.push(median(cells.map((c) => c.medianUs)).toFixed(1), median(cells.map((c) => c.faultsPerCall)).toFixed(2));
      }
      rows.push(row);
    }
  }
  console.log(`median over ${args.rounds} round(s) of per-round medians; ${args.minSeconds} s of calls per cell and round`);
  console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
}

const args = parseArgs(process.argv.slice(2));
if (args.child) {
  child(args).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parent(args);
}
