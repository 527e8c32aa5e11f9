/**
 * Benchmark of the main job (npm run bench:train): the `demo` preset (or --preset smoke) with several seeds,
 * one after the other on the CPU, and a section of bench/RESULTS.md with test accuracy after stage 1 and
 * stage 2 (overall and hard subset), Voting@5 and Voting@15, mean response length before and after RL, and
 * wall time per phase: the mean and the seed spread of each, with the machine, date and command.
 *
 *   node dist/scripts/bench-train.js [--preset demo|smoke] [--seeds 0,1,2] [--out DIR] [--no-write]
 *
 * Runs go to DIR/<preset>-seed<k> (default bench/raw/train, git-ignored); an existing finished run there is
 * reused, an unfinished one resumed, so an interrupted benchmark can be restarted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backends } from '../lib/backends';
import { progressBars } from '../lib/cli/progress';
import { PRESET_NAMES, resolveTrainConfig } from '../lib/train/presets';
import { train } from '../lib/train/trainer';
import { signTestP } from '../lib/train/summary';
import type { RunSummary } from '../lib/train/types';
import { machineDescription, today, writeSection } from './bench/results-file';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const preset = arg('preset') ?? 'demo';
if (!PRESET_NAMES.includes(preset)) throw new RangeError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got ${preset}`);
const seeds = (arg('seeds') ?? '0,1,2').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--seeds must be non-negative integers, got ${JSON.stringify(s)}`);
  return n;
});
const root = path.resolve(arg('out') ?? path.join(__dirname, '..', '..', 'bench', 'raw', 'train'));
const write = !process.argv.includes('--no-write');

interface Stat {
  mean: number;
  sd: number;
  min: number;
  max: number;
}

function stat(xs: number[]): Stat {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean: m, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

const pct = (s: Stat) => `${(100 * s.mean).toFixed(1)}% ± ${(100 * s.sd).toFixed(1)} (${(100 * s.min).toFixed(1)}–${(100 * s.max).toFixed(1)})`;
const pts = (s: Stat) =>
  `${s.mean >= 0 ? '+' : ''}${(100 * s.mean).toFixed(1)} ± ${(100 * s.sd).toFixed(1)} points (${(100 * s.min).toFixed(1)} to ${(100 * s.max).toFixed(1)})`;
const num = (s: Stat, d = 0) => `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;

async function runSeed(seed: number): Promise<RunSummary> {
  const out = path.join(root, `${preset}-seed${seed}`);
  const config = resolveTrainConfig(preset, { seed, device: 'cpu' });
  const resume = fs.existsSync(path.join(out, 'config.json'));
  const t = Date.now();
  process.stderr.write(`\n== ${preset}, seed ${seed}: ${out}${resume ? ' (resuming)' : ''}\n`);
  const r = await train({ config, out, resume, log: (m) => process.stderr.write(m + '\n'), onProgress: progressBars(process.stderr) });
  if (r.interrupted || !r.summary) throw new Error(`seed ${seed}: the run did not finish`);
  process.stderr.write(`== seed ${seed} done in ${((Date.now() - t) / 1000).toFixed(0)} s\n${r.summary.lines.join('\n')}\n`);
  return r.summary;
}

async function main(): Promise<void> {
  fs.mkdirSync(root, { recursive: true });
  const runs: RunSummary[] = [];
  for (const seed of seeds) runs.push(await runSeed(seed));
  const s2 = (r: RunSummary) => r.stage2 ?? r.stage1;
  const vote = (r: RunSummary, k: number) => r.voting?.votingAtK[String(Math.min(k, r.voting.k))] ?? NaN;
  const kMax = Math.min(...runs.map((r) => r.voting?.k ?? 0));
  const rows: Array<[string, string]> = [
    [
      'caption test after stage 1 (test grid cells read after the task prompt; ~50% = blind)',
      runs.every((r) => r.vision) ? pct(stat(runs.map((r) => r.vision!.cells))) : 'not run (no vision warm-up)',
    ],
    [
      'lookup test after stage 1 (one test cell named out of caption order, after the task prompt; a model that ignores the name and starts the caption scores ~11%)',
      runs.every((r) => r.vision) ? pct(stat(runs.map((r) => r.vision!.lookup))) : 'not run (no vision warm-up)',
    ],
    ['test accuracy after stage 1', pct(stat(runs.map((r) => r.stage1.accuracy)))],
    ['test accuracy after stage 2', pct(stat(runs.map((r) => s2(r).accuracy)))],
    ['hard subset after stage 1', pct(stat(runs.map((r) => r.stage1.hard.accuracy)))],
    ['hard subset after stage 2', pct(stat(runs.map((r) => s2(r).hard.accuracy)))],
    ['change on the hard subset (stage 2 - stage 1)', pts(stat(runs.map((r) => s2(r).hard.accuracy - r.stage1.hard.accuracy)))],
    ['change overall', pts(stat(runs.map((r) => s2(r).accuracy - r.stage1.accuracy)))],
    [`Voting@5 (final model)`, kMax >= 5 ? pct(stat(runs.map((r) => vote(r, 5)))) : 'not run (K < 5)'],
    [`Voting@15 (final model)`, kMax >= 15 ? pct(stat(runs.map((r) => vote(r, 15)))) : `not run (K = ${kMax})`],
    [
      'greedy accuracy on the voted test samples (final model)',
      runs.every((r) => typeof r.voting?.greedy === 'number') ? pct(stat(runs.map((r) => r.voting!.greedy!))) : 'not known',
    ],
    [
      'samples without a readable verdict (Voting@K; they cast no vote)',
      runs.every((r) => typeof r.voting?.unreadable === 'number') ? pct(stat(runs.map((r) => r.voting!.unreadable))) : 'not known',
    ],
    ['Any-correct@K (final model)', kMax > 0 ? pct(stat(runs.map((r) => r.voting!.anyCorrectAtK[String(kMax)]))) + ` (K = ${kMax})` : 'not run'],
    ['mean response length after stage 1 (greedy, tokens)', num(stat(runs.map((r) => r.stage1.meanLength)), 1)],
    ['mean response length after stage 2 (greedy, tokens)', num(stat(runs.map((r) => s2(r).meanLength)), 1)],
  ];
  for (const phase of ['data', 'sft', 'difficulty', 'rl', 'final']) {
    rows.push([`wall time: ${phase} (s)`, num(stat(runs.map((r) => r.seconds[phase] ?? 0)))]);
  }
  rows.push(['wall time: total (s)', num(stat(runs.map((r) => Object.values(r.seconds).reduce((a, b) => a + b, 0))))]);

  const hardDelta = stat(runs.map((r) => s2(r).hard.accuracy - r.stage1.hard.accuracy));
  // The spread to beat: the larger of the seed-to-seed sd of either stage's accuracy and of the gain itself.
  const spread = Math.max(stat(runs.map((r) => r.stage1.hard.accuracy)).sd, stat(runs.map((r) => s2(r).hard.accuracy)).sd, hardDelta.sd);
  const stage1Mean = stat(runs.map((r) => r.stage1.accuracy)).mean;
  const chance =
    Math.abs(stage1Mean - 0.5) < 0.05
      ? ` Note: stage-1 accuracy (${(100 * stage1Mean).toFixed(1)}%) is at chance level for balanced pairs: the model has not learnt the task, so stage 2 has little to build on.`
      : '';
  const verdict =
    runs.length < 2
      ? 'one seed only: no seed spread to compare with.'
      : hardDelta.mean > spread
        ? `the mean hard-subset gain (${(100 * hardDelta.mean).toFixed(1)} points) is larger than the seed-to-seed spread (sd ${(100 * spread).toFixed(1)} points).`
        : `the mean hard-subset change (${(100 * hardDelta.mean).toFixed(1)} points) is NOT larger than the seed-to-seed spread (sd ${(100 * spread).toFixed(1)} points): stage 2 did not clearly help here.`;
  // A mean over 3 seeds can beat a 3-seed sd by chance: say how many seeds' own change is significant.
  const significant = runs.filter((r) => r.change.hard && r.change.hard.pValue < 0.05 && r.change.hard.fixed > r.change.hard.broken).length;
  const perSeedNote = runs.length > 1 ? ` ${significant} of ${runs.length} seeds show a hard-subset gain significant on their own (sign test p < 0.05).` : '';
  const verdictText = verdict + perSeedNote + chance;
  const perSeed = runs.map((r) => {
    const p = r.change.hard;
    return `| ${r.seed} | ${(100 * r.stage1.accuracy).toFixed(1)}% | ${(100 * s2(r).accuracy).toFixed(1)}% | ${(100 * r.stage1.hard.accuracy).toFixed(1)}% | ${(100 * s2(r).hard.accuracy).toFixed(1)}% | ${p ? `${p.fixed}/${p.broken}, p = ${p.pValue.toFixed(3)}` : '—'} | ${kMax >= 5 ? (100 * vote(r, 5)).toFixed(1) + '%' : '—'} | ${kMax >= 15 ? (100 * vote(r, 15)).toFixed(1) + '%' : '—'} | ${Object.values(
      r.seconds,
    )
      .reduce((a, b) => a + b, 0)
      .toFixed(0)} |`;
  });
  // Pooled over seeds: the per-seed flips summed, one exact sign test (the issue's paired test).
  const pooled = (pick: (r: RunSummary) => { fixed: number; broken: number } | null) => {
    const fixed = runs.reduce((a, r) => a + (pick(r)?.fixed ?? 0), 0);
    const broken = runs.reduce((a, r) => a + (pick(r)?.broken ?? 0), 0);
    return { fixed, broken, p: signTestP(fixed, broken) };
  };
  const pooledAll = pooled((r) => r.change.overall);
  const pooledHard = pooled((r) => r.change.hard);
  // With a teacher that errs (data.teacherSlip): the test pairs it misreads, where stage 1 learnt its slips.
  const blind = runs.every((r) => r.change.blindSpots) ? pooled((r) => r.change.blindSpots ?? null) : null;
  const share1 = (r: RunSummary) => r.evals.map((e) => ({ tag: e.tag, step: e.globalStep, share1: e.summary.answersOne, accuracy: e.summary.accuracy }));
  const levels = [...new Set(runs.flatMap((r) => Object.keys(r.stage1.byLevel)))].sort();
  rows.push([
    'pooled paired change, all test pairs (fixed / broken, exact sign test)',
    `${pooledAll.fixed} / ${pooledAll.broken}, p = ${pooledAll.p.toPrecision(2)}`,
  ]);
  rows.push(['pooled paired change, hard subset', `${pooledHard.fixed} / ${pooledHard.broken}, p = ${pooledHard.p.toPrecision(2)}`]);
  if (blind) {
    const before = stat(runs.map((r) => r.change.blindSpots!.before));
    const after = stat(runs.map((r) => r.change.blindSpots!.after));
    rows.push([
      `where the teacher misreads (${runs[0].change.blindSpots!.n} test pairs per seed): stage 1 -> stage 2`,
      `${pct(before)} -> ${pct(after)}; pooled ${blind.fixed} fixed / ${blind.broken} broken, p = ${blind.p.toPrecision(2)}`,
    ]);
    const rest = pooled((r) => {
      const o = r.change.overall!;
      const b = r.change.blindSpots!;
      return { fixed: o.fixed - b.fixed, broken: o.broken - b.broken };
    });
    rows.push(['pooled paired change on the other test pairs', `${rest.fixed} / ${rest.broken}, p = ${rest.p.toPrecision(2)}`]);
  }
  rows.push([
    'share of "1" verdicts at every evaluation (per seed)',
    runs
      .map(
        (r) =>
          `seed ${r.seed}: ${share1(r)
            .map((e) => `${(100 * e.share1).toFixed(0)}%`)
            .join(' / ')}`,
      )
      .join('; '),
  ]);
  for (const lv of levels) {
    rows.push([
      `level ${lv}: stage 1 -> stage 2`,
      `${pct(stat(runs.map((r) => r.stage1.byLevel[lv]?.accuracy ?? NaN)))} -> ${pct(stat(runs.map((r) => s2(r).byLevel[lv]?.accuracy ?? NaN)))}`,
    ]);
  }
  if (write) {
    const json = {
      preset,
      date: today(),
      machine: machineDescription(),
      testPairs: runs[0].stage1.n,
      seeds: runs.map((r) => ({
        seed: r.seed,
        stage1: {
          accuracy: r.stage1.accuracy,
          hard: r.stage1.hard.accuracy,
          share1: r.stage1.answersOne,
          byLevel: r.stage1.byLevel,
          byCategory: r.stage1.byCategory,
        },
        stage2: { accuracy: s2(r).accuracy, hard: s2(r).hard.accuracy, share1: s2(r).answersOne, byLevel: s2(r).byLevel, byCategory: s2(r).byCategory },
        change: r.change,
        share1: share1(r),
        voting: r.voting
          ? {
              k: r.voting.k,
              n: r.voting.n,
              votingAtK: r.voting.votingAtK,
              anyCorrectAtK: r.voting.anyCorrectAtK,
              greedy: r.voting.greedy,
              unreadable: r.voting.unreadable ?? null,
            }
          : null,
        seconds: r.seconds,
      })),
      pooled: { overall: pooledAll, hard: pooledHard, blindSpots: blind, gainPoints: 100 * stat(runs.map((r) => s2(r).accuracy - r.stage1.accuracy)).mean },
    };
    fs.writeFileSync(path.join(__dirname, '..', '..', 'bench', `train${preset === 'demo' ? '' : '-' + preset}.json`), JSON.stringify(json, null, 2) + '\n');
  }
  const cuda = backends().cuda;
  const c0 = resolveTrainConfig(preset);
  const md = [
    `## Training: \`${preset}\` preset, ${runs.length} seed(s)`,
    '',
    `Date ${today()}; machine: ${machineDescription()}; device: CPU (${os.cpus().length} cores). ` +
      `Command: \`npm run bench:train${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` ` +
      `(seeds ${seeds.join(', ')}, run one after the other). CUDA: not measured: the built-in model's CUDA path has not run on a GPU yet` +
      `${cuda.usable ? ` (a GPU was usable: ${cuda.name})` : ''}.`,
    '',
    `Setup: ${c0.data.n} synthetic samples (test share ${c0.data.testFraction}${c0.data.maxTrain === null ? '' : `; stage 1 and difficulty on the first ${c0.data.maxTrain} training rows`}); model d=${c0.model.dModel}, ${c0.model.nLayers} layers, ${c0.model.init === 'backbone' ? 'from the shipped backbone (backbone/card.md)' : 'from scratch'}${c0.data.captionFirst ? ', caption-first analyses' : ''}${c0.data.teacherSlip > 0 ? `, a teacher that misreads ${Math.round(100 * c0.data.teacherSlip)}% of the comparisons and existence questions it can misread (data.teacherSlip)` : ''}, ${c0.model.bpeMerges ? `BPE tokens (up to ${c0.model.bpeMerges} merges)` : 'byte tokens'}; ` +
      `stage 1 ${c0.vision.untilLoss !== null ? `up to ${c0.vision.steps} caption steps of ${c0.vision.batchSize} (until the caption loss < ${c0.vision.untilLoss})` : `${c0.vision.steps} caption steps of ${c0.vision.batchSize}`}, then ${c0.sft.epochs} epoch(s) of batch ${c0.sft.batchSize} (+ ${Math.round(c0.vision.captionShare * c0.sft.batchSize)} captions); difficulty ${c0.difficulty.source === 'teacher' ? "from the teacher's verdicts (difficulty.source 'teacher')" : `of ${c0.difficulty.limit ?? 'all'} training samples`}; ` +
      `stage 2 ${c0.rl.algo}, ${c0.rl.steps} steps of ${c0.rl.promptsPerStep} prompts x ${c0.rl.samplesPerPrompt} samples. ` +
      `Accuracy is greedy on the test split; hard subset = generator levels ${c0.eval.hardLevels.join(', ')}. Values: mean ± sample sd (min–max) over seeds.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| seed | acc. stage 1 | acc. stage 2 | hard stage 1 | hard stage 2 | hard: fixed/broken, sign test | Voting@5 | Voting@15 | seconds |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...perSeed,
    '',
    `Verdict: ${verdictText}`,
  ].join('\n');
  process.stdout.write('\n' + md + '\n');
  if (write) {
    writeSection(`train-${preset}`, md);
    process.stderr.write('wrote the section to bench/RESULTS.md\n');
  }
}

main().catch((e) => {
  process.stderr.write(`bench-train: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
