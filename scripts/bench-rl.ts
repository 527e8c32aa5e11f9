/**
 * Stage-2 bench (issue 15): does stage 2 make a judge that already judges better, and what do the parts of
 * StableReinforce do? The bed is the main job itself, the `demo` preset: a stage-1 judge at ~82% that learnt
 * from a teacher that misreads some images (data.teacherSlip), true labels, 1,120 held-out pairs per seed.
 *
 *   npm run bench:rl [-- --seeds 0,1,2] [--variants main,control,...] [--preset smoke --out DIR] [--no-write]
 *
 * Per seed, stage 1 (data, SFT, the teacher's difficulty) runs once into bench/raw/rl/seed<k>/stage1 and stops
 * where stage 2 begins (train's `until`); every variant below is a fork of it (forkRun) with its stage-2 settings,
 * run into bench/raw/rl/seed<k>/<variant>. A finished variant is read back, an unfinished one resumed, so an
 * interrupted bench can be restarted. Writes bench/rl.json and the "rl" section of bench/RESULTS.md: the goal
 * figures, and the paper's claims as held / not held / not measurable with their numbers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { format } from 'prettier';
import { parseFlags, str } from '../lib/cli/args';
import { progressBars } from '../lib/cli/progress';
import { type GreedyOutput } from '../lib/train/evaluate';
import { writeReport } from '../lib/report/report';
import { findLatestCheckpoint } from '../lib/train/checkpoint';
import { forkRun } from '../lib/train/fork';
import { readMetrics, type StepLine } from '../lib/train/metrics';
import { resolveTrainConfig } from '../lib/train/presets';
import { type PairedChange, pairedChange, signTestP } from '../lib/train/summary';
import { train } from '../lib/train/trainer';
import type { RunSummary } from '../lib/train/types';
import { machineDescription, today, writeSection } from './bench/results-file';

const FLAGS = parseFlags(process.argv.slice(2), {
  seeds: { type: 'string' },
  variants: { type: 'string' },
  preset: { type: 'string' },
  out: { type: 'string' },
  'no-write': { type: 'boolean' },
} as const);
const arg = (name: string) => str(FLAGS, name);

const ROOT = path.join(__dirname, '..', '..');
const RAW = path.resolve(arg('out') ?? path.join(ROOT, 'bench', 'raw', 'rl'));
const PRESET = arg('preset') ?? 'demo';

/**
 * Stress for the stability claim: 4 passes of 4 AdamW steps over each step's rollouts (16 updates, the later ones
 * on stale rollouts) instead of one; the hard stress adds 3x the lr and no gradient-norm clip, which would otherwise
 * bound what one huge token loss can do to an update.
 */
const STRESS = { ppoEpochs: 4, rolloutsPerUpdate: 32 };
const HARD_STRESS = { ...STRESS, lr: 1e-3, maxGradNorm: 0 };

interface Variant {
  about: string;
  /** Overrides of the demo preset (stage-2 and Voting@K settings only: forkRun refuses the rest). */
  set: { rl?: Record<string, unknown>; eval?: Record<string, unknown> };
}

const NO_VOTING = { votingK: 0 };

/** In the order they run: what the goal needs first, then the claims. */
const VARIANTS: Readonly<Record<string, Variant>> = {
  main: { about: "the preset's stage 2 (StableReinforce: Pre-CLIP, Advantage Filter, consistency reward; RLOO + dynamic filtering, k3 KL 0.05)", set: {} },
  control: { about: "random-label control: the pool's labels shuffled for the rewards", set: { rl: { randomLabels: true }, eval: NO_VOTING } },
  before: { about: 'no stage 2: Voting@K of the stage-1 model', set: { rl: { steps: 0 } } },
  stress: { about: `StableReinforce under stress (${STRESS.ppoEpochs} passes x 4 updates per step)`, set: { rl: { ...STRESS }, eval: NO_VOTING } },
  'stress-no-clip-filter': {
    about: 'the same stress without Pre-CLIP and the Advantage Filter (REINFORCE++ with PPO clipping)',
    set: { rl: { ...STRESS, preClip: false, filter: false }, eval: NO_VOTING },
  },
  'stress-hard': {
    about: 'StableReinforce under hard stress (the same, lr 1e-3, no gradient-norm clip)',
    set: { rl: { ...HARD_STRESS }, eval: NO_VOTING },
  },
  'stress-hard-no-clip-filter': {
    about: 'the hard stress without Pre-CLIP and the Advantage Filter',
    set: { rl: { ...HARD_STRESS, preClip: false, filter: false }, eval: NO_VOTING },
  },
  grpo: { about: 'GRPO (group mean/std advantages; no Pre-CLIP, filter, consistency or dynamic filtering)', set: { rl: { algo: 'grpo' }, eval: NO_VOTING } },
  'no-consistency': { about: 'StableReinforce without the consistency reward', set: { rl: { consistency: false }, eval: NO_VOTING } },
  'released-filter': {
    about: "StableReinforce with the released code's Advantage Filter rule (zero outside the raw mean +- 3, and |z| > 10)",
    set: { rl: { filterRule: 'released-code' }, eval: NO_VOTING },
  },
  'paper-advantages': {
    about: "StableReinforce with the paper's REINFORCE++ advantages (no per-prompt baseline, no dynamic filtering)",
    set: { rl: { baseline: 'none', dynamicFilter: false }, eval: NO_VOTING },
  },
};

const seeds = (arg('seeds') ?? '0,1,2').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--seeds must be non-negative integers, got ${JSON.stringify(s)}`);
  return n;
});
const variantNames = (arg('variants') ?? Object.keys(VARIANTS).join(',')).split(',');
for (const v of variantNames) if (!(v in VARIANTS)) throw new RangeError(`--variants: unknown variant ${v} (known: ${Object.keys(VARIANTS).join(', ')})`);
if (!variantNames.includes('main')) throw new RangeError('--variants must include main (the goal figures and every comparison are against it)');
const write = FLAGS['no-write'] !== true;

/** One finished run of a variant: its summary, stage-2 step lines and final greedy outputs (null without stage 2). */
interface Done {
  summary: RunSummary;
  steps: StepLine[];
  outputs: GreedyOutput[] | null;
  stage1Outputs: GreedyOutput[];
}

const log = (m: string) => process.stderr.write(m + '\n');

async function stage1(seed: number): Promise<string> {
  const out = path.join(RAW, `seed${seed}`, 'stage1');
  const config = resolveTrainConfig(PRESET, { seed, device: 'cpu' });
  const resume = fs.existsSync(path.join(out, 'config.json'));
  if (resume && (await findLatestCheckpoint(out))?.state.phase === 'rl') {
    const stored = readJson<unknown>(path.join(out, 'config.json'));
    if (JSON.stringify(stored) !== JSON.stringify(config))
      throw new Error(`${out} was made with another configuration (the preset changed?): remove it to train stage 1 again`);
    return out;
  }
  log(`\n== seed ${seed}: stage 1 in ${out}${resume ? ' (resuming)' : ''}`);
  const r = await train({ config, out, resume, until: 'rl', log, onProgress: progressBars(process.stderr) });
  if (r.stoppedAt !== 'rl') throw new Error(`seed ${seed}: stage 1 did not reach stage 2 (${r.interrupted ? 'interrupted' : 'finished'})`);
  return out;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

async function runVariant(seed: number, name: string, base: string): Promise<Done> {
  const out = path.join(RAW, `seed${seed}`, name);
  const config = resolveTrainConfig(PRESET, { seed, device: 'cpu' }, VARIANTS[name].set);
  const summaryFile = path.join(out, 'summary.json');
  if (fs.existsSync(summaryFile) && JSON.stringify(readJson<unknown>(path.join(out, 'config.json'))) !== JSON.stringify(config))
    throw new Error(`${out} was made with another configuration (the preset or the variant changed?): remove it to run it again`);
  if (!fs.existsSync(summaryFile)) {
    const exists = fs.existsSync(path.join(out, 'config.json'));
    if (!exists) await forkRun(base, out, config);
    const t = Date.now();
    log(`\n== seed ${seed}, ${name}: ${out}${exists ? ' (resuming)' : ''}`);
    const r = await train({ config, out, resume: true, report: false, log, onProgress: progressBars(process.stderr) });
    if (!r.summary) throw new Error(`seed ${seed}, ${name}: the run did not finish`);
    log(`== seed ${seed}, ${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const summary = readJson<RunSummary>(summaryFile);
  const stage2File = path.join(out, 'evals', 'stage2.json');
  return {
    summary,
    steps: readMetrics(path.join(out, 'metrics.jsonl')).filter((l) => l.stage === 'rl'),
    outputs: summary.stage2 && fs.existsSync(stage2File) ? readJson<GreedyOutput[]>(stage2File) : null,
    stage1Outputs: readJson<GreedyOutput[]>(path.join(out, 'evals', 'stage1.json')),
  };
}

// ---------------------------------------------------------------- figures

interface Pooled {
  fixed: number;
  broken: number;
  p: number;
  gainPoints: number;
}

/** Paired change from `before` to `after` outputs, summed over seeds, one exact sign test. */
function pooledChange(pairs: ReadonlyArray<[readonly GreedyOutput[], readonly GreedyOutput[]]>): Pooled {
  return pooledOf(pairs.map(([a, b]) => pairedChange(a, b)));
}

/** Per-seed paired changes summed, one exact sign test. */
function pooledOf(changes: readonly PairedChange[]): Pooled {
  const fixed = changes.reduce((a, c) => a + c.fixed, 0);
  const broken = changes.reduce((a, c) => a + c.broken, 0);
  const n = changes.reduce((a, c) => a + c.n, 0);
  return { fixed, broken, p: signTestP(fixed, broken), gainPoints: n ? (100 * (fixed - broken)) / n : 0 };
}

const num = (l: StepLine, k: string): number => {
  const v = (l as unknown as Record<string, unknown>)[k];
  return typeof v === 'number' ? v : NaN;
};
const maxOf = (xs: number[]) => xs.reduce((a, x) => (Number.isFinite(x) && x > a ? x : a), -Infinity);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN);

/** Stage 2's stability signals over a variant's seeds. */
function stability(runs: readonly Done[]) {
  const steps = runs.flatMap((r) => r.steps);
  return {
    ratioMax: maxOf(steps.map((l) => num(l, 'ratioMax'))),
    preClipFraction: maxOf(steps.map((l) => num(l, 'preClipFraction'))),
    clipFractionMean: mean(steps.map((l) => num(l, 'clipFraction')).filter(Number.isFinite)),
    lossAbsMax: maxOf(steps.map((l) => Math.abs(num(l, 'loss')))),
    gradNormMax: maxOf(steps.map((l) => num(l, 'gradNorm'))),
    klMax: maxOf(steps.map((l) => num(l, 'kl'))),
    filteredTokens: steps.reduce((a, l) => a + (Number.isFinite(num(l, 'filtered')) ? num(l, 'filtered') : 0), 0),
    nonFiniteOrSkipped: runs.reduce((a, r) => a + r.summary.skippedUpdates, 0) + steps.filter((l) => !Number.isFinite(num(l, 'loss'))).length,
    lengthFirstLast: runs.map((r) => (r.steps.length ? [num(r.steps[0], 'responseLength'), num(r.steps.at(-1)!, 'responseLength')] : [])),
  };
}

const pct = (x: number) => (100 * x).toFixed(1);
const signed = (x: number, d = 1) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;

function round4(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const bases = new Map<number, string>();
  for (const seed of seeds) bases.set(seed, await stage1(seed));
  const runs: Record<string, Done[]> = {};
  for (const name of variantNames) {
    runs[name] = [];
    for (const seed of seeds) runs[name].push(await runVariant(seed, name, bases.get(seed)!));
  }
  const wallSeconds = (Date.now() - t0) / 1000;
  // What a fresh clone spends: each seed's stage 1 once, then each variant's own stage 2 and final phase.
  const stage1Seconds = (r: Done) => (r.summary.seconds.data ?? 0) + (r.summary.seconds.sft ?? 0) + (r.summary.seconds.difficulty ?? 0);
  const ownSeconds = (r: Done) => (r.summary.seconds.rl ?? 0) + (r.summary.seconds.final ?? 0);
  const computeSeconds =
    runs.main.reduce((a, r) => a + stage1Seconds(r), 0) + Object.values(runs).reduce((a, rs) => a + rs.reduce((b, r) => b + ownSeconds(r), 0), 0);
  // One report per seed: every variant's accuracy and verdict-share curves over the same stage 1.
  const reports: string[] = [];
  for (const seed of seeds) {
    const out = path.join(RAW, `report-seed${seed}.html`);
    await writeReport(
      variantNames.map((name) => path.join(RAW, `seed${seed}`, name)),
      { out, png: null },
    );
    reports.push(out);
  }
  const main = runs.main;
  const s2 = (r: Done) => r.summary.stage2 ?? r.summary.stage1;
  const vsStage1 = (name: string) => pooledChange(runs[name].map((r) => [r.stage1Outputs, r.outputs ?? r.stage1Outputs]));
  const vsMain = (name: string) => pooledChange(runs[name].map((r, k) => [main[k].outputs!, r.outputs ?? r.stage1Outputs]));
  const has = (name: string) => runs[name] !== undefined;

  const gain = vsStage1('main');
  const share1 = main.map((r) => r.summary.evals.map((e) => e.summary.answersOne));
  const blind = pooledOf(main.flatMap((r) => r.summary.change.blindSpots ?? []));
  const claims: Array<{ claim: string; result: 'held' | 'not held' | 'not measurable' | 'not run'; figures: Record<string, unknown> }> = [];
  const claim = (c: string, result: (typeof claims)[number]['result'], figures: Record<string, unknown>) => claims.push({ claim: c, result, figures });

  claim('stage 2 gains >= 5 points pooled (p < 0.01)', gain.gainPoints >= 5 && gain.p < 0.01 ? 'held' : 'not held', { ...gain });
  claim('no seed loses', main.every((r) => s2(r).accuracy >= r.summary.stage1.accuracy) ? 'held' : 'not held', {
    perSeedGainPoints: main.map((r) => 100 * (s2(r).accuracy - r.summary.stage1.accuracy)),
  });
  claim('share of "1" verdicts within 40-60% at every evaluation', share1.flat().every((s) => s >= 0.4 && s <= 0.6) ? 'held' : 'not held', { share1 });
  if (has('control')) {
    const c = vsStage1('control');
    claim('the random-label control gains nothing', c.gainPoints <= 0 || c.p >= 0.05 ? 'held' : 'not held', { ...c });
  } else claim('the random-label control gains nothing', 'not run', {});

  const stMain = stability(main);
  claim('Pre-CLIP matters in the recipe regime (1 pass, 1 AdamW step per step)', stMain.preClipFraction > 0 ? 'held' : 'not measurable', {
    ratioMax: stMain.ratioMax,
    preClipFractionMax: stMain.preClipFraction,
    why: 'the ratio stays ~1: Pre-CLIP never binds, so the update without it is the same',
  });
  for (const level of ['stress', 'stress-hard']) {
    const text = `under ${level === 'stress' ? 'stress' : 'hard stress'} (variant ${level}), REINFORCE++ without Pre-CLIP and filter is unstable where StableReinforce is not`;
    const without = `${level}-no-clip-filter`;
    if (!has(level) || !has(without)) {
      claim(text, 'not run', {});
      continue;
    }
    const a = stability(runs[level]);
    const b = stability(runs[without]);
    const acc = pooledChange(runs[without].map((r, k) => [runs[level][k].outputs!, r.outputs!]));
    const blewUp = b.nonFiniteOrSkipped > a.nonFiniteOrSkipped || (acc.broken > acc.fixed && acc.p < 0.01);
    claim(text, blewUp ? 'held' : 'not held', {
      stableReinforce: { gainPoints: vsStage1(level).gainPoints, p: vsStage1(level).p, ...a },
      withoutPreClipAndFilter: { gainPoints: vsStage1(without).gainPoints, p: vsStage1(without).p, ...b },
      withoutVsWith: acc,
    });
  }
  claim('the 3-sigma Advantage Filter removes outliers', stMain.filteredTokens > 0 ? 'held' : 'not measurable', {
    filteredTokens: stMain.filteredTokens,
    why: 'with rewards of a few values and RLOO baselines no advantage lies beyond 3 sigma: the filter never fires, so the update without it is the same',
  });
  if (has('released-filter')) {
    const st = stability(runs['released-filter']);
    const d = vsMain('released-filter');
    claim("the released code's filter rule differs from the paper's in effect", st.filteredTokens === 0 ? 'not measurable' : d.p < 0.05 ? 'held' : 'not held', {
      filteredTokens: st.filteredTokens,
      variantGainPoints: vsStage1('released-filter').gainPoints,
      mainRightVariantWrong: d.broken,
      variantRightMainWrong: d.fixed,
      p: d.p,
    });
  } else claim("the released code's filter rule differs from the paper's in effect", 'not run', {});
  for (const [name, text] of [
    ['no-consistency', 'the consistency reward helps (StableReinforce beats the same without it)'],
    ['grpo', 'StableReinforce beats GRPO'],
    ['paper-advantages', "the RLOO baseline + dynamic filtering beat the paper's REINFORCE++ advantages"],
  ] as const) {
    if (!has(name)) {
      claim(text, 'not run', {});
      continue;
    }
    const d = vsMain(name); // variant vs main: broken = pairs main gets right and the variant wrong
    claim(text, d.broken > d.fixed && d.p < 0.05 ? 'held' : 'not held', {
      variantGainPoints: vsStage1(name).gainPoints,
      mainGainPoints: gain.gainPoints,
      mainRightVariantWrong: d.broken,
      variantRightMainWrong: d.fixed,
      p: d.p,
    });
  }
  const voting = (r: Done, k: number) => r.summary.voting?.votingAtK[String(k)] ?? NaN;
  const v5 = mean(main.map((r) => voting(r, 5)));
  const g5 = mean(main.map((r) => r.summary.voting?.greedy ?? NaN));
  claim('Voting@5 >= greedy after stage 2', !Number.isFinite(v5) ? 'not measurable' : v5 >= g5 ? 'held' : 'not held', {
    votingAt5: v5,
    greedySamePairs: g5,
    perSeed: main.map((r) => [voting(r, 5), r.summary.voting?.greedy]),
  });
  if (has('before')) {
    const b5 = mean(runs.before.map((r) => voting(r, 5)));
    claim('stage 2 raises Voting@5', !Number.isFinite(v5 + b5) ? 'not measurable' : v5 > b5 ? 'held' : 'not held', { before: b5, after: v5 });
  } else claim('stage 2 raises Voting@5', 'not run', {});
  const len1 = mean(main.map((r) => r.summary.stage1.meanLength));
  const len2 = mean(main.map((r) => s2(r).meanLength));
  claim('RL shortens responses (paper: ~15%)', len2 < 0.95 * len1 ? 'held' : 'not held', {
    stage1Tokens: len1,
    stage2Tokens: len2,
    changePercent: (100 * (len2 - len1)) / len1,
  });

  const variants = Object.fromEntries(
    variantNames.map((name) => [
      name,
      {
        about: VARIANTS[name].about,
        set: VARIANTS[name].set,
        vsStage1: vsStage1(name),
        seeds: runs[name].map((r) => ({
          seed: r.summary.seed,
          accuracy: s2(r).accuracy,
          share1: r.summary.evals.map((e) => e.summary.answersOne),
          length: s2(r).meanLength,
          voting: r.summary.voting ? { k: r.summary.voting.k, votingAtK: r.summary.voting.votingAtK, greedy: r.summary.voting.greedy } : null,
          seconds: r.summary.seconds,
        })),
        stability: stability(runs[name]),
      },
    ]),
  );
  const json = {
    preset: PRESET,
    date: today(),
    machine: machineDescription(),
    testPairs: main[0].summary.stage1.n,
    wallSeconds,
    computeSeconds,
    seeds: main.map((r, k) => ({
      seed: r.summary.seed,
      stage1: { accuracy: r.summary.stage1.accuracy, share1: r.summary.stage1.answersOne, length: r.summary.stage1.meanLength },
      stage2: { accuracy: s2(r).accuracy, share1: s2(r).answersOne, length: s2(r).meanLength, change: r.summary.change.overall },
      share1: share1[k],
      accuracy: r.summary.evals.map((e) => e.summary.accuracy),
      evalSteps: r.summary.evals.map((e) => e.step),
      blindSpots: r.summary.change.blindSpots ?? null,
      control: has('control')
        ? {
            stage1: { accuracy: runs.control[k].summary.stage1.accuracy },
            stage2: { accuracy: s2(runs.control[k]).accuracy },
            share1: runs.control[k].summary.evals.map((e) => e.summary.answersOne),
          }
        : null,
      seconds: r.summary.seconds,
    })),
    pooled: { ...gain, blindSpots: blind, control: has('control') ? vsStage1('control') : null },
    claims,
    variants,
  };
  // Formatted as the repository's format check wants it (prettier is a dev dependency, as is this script's build).
  if (write) fs.writeFileSync(path.join(ROOT, 'bench', 'rl.json'), await format(JSON.stringify(json, round4), { parser: 'json' }));

  const c0 = resolveTrainConfig(PRESET);
  const runSeconds = (r: Done) => Object.values(r.summary.seconds).reduce((a, b) => a + b, 0);
  const md = [
    '## Stage 2 on a judge that judges (`npm run bench:rl`)',
    '',
    `Date ${today()}; machine: ${machineDescription()}; CPU only. Command: \`npm run bench:rl${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`. ` +
      `From a fresh clone it trains every run: ${Math.round(computeSeconds / 60)} minutes of training and evaluation on this machine (stage 1 ~${Math.round(mean(main.map(stage1Seconds)))} s per seed, a stage-2 variant ~${Math.round(mean(Object.values(runs).flatMap((rs) => rs.map(ownSeconds))))} s), plus ~30 s of loading per run; ` +
      `finished runs in bench/raw/rl/ are read back (this invocation: ${Math.round(wallSeconds)} s). Per-seed overlays of every variant's accuracy and share-of-"1" curves: ${reports.map((f) => path.relative(ROOT, f)).join(', ')}.`,
    '',
    `Bed: the \`${PRESET}\` preset${PRESET === 'demo' ? ' (`npm start`)' : ''}: a stage-1 judge ${c0.model.init === 'backbone' ? 'from the shipped backbone' : 'from scratch'}, whose teacher misreads ${Math.round(100 * c0.data.teacherSlip)}% of the comparisons and existence questions it can misread (data.teacherSlip), true labels; stage 2 ${c0.rl.steps} steps of ${c0.rl.promptsPerStep} x ${c0.rl.samplesPerPrompt} rollouts on the ${c0.difficulty.source === 'teacher' ? "teacher's" : "stage-1 model's"} hard samples${c0.rl.easyShare > 0 ? ` plus guards (rl.easyShare ${c0.rl.easyShare})` : ''}; ` +
      `${main[0].summary.stage1.n} held-out pairs per seed, greedy; seeds ${seeds.join(', ')}. Every variant starts from its seed's same stage-1 checkpoint. Details: docs/research/rl-regime.md.`,
    '',
    '| seed | stage 1 | stage 2 | fixed / broken (p) | where the teacher misreads | share of "1" at each evaluation | length (tokens) | control: stage 1 -> 2 | seconds (whole run) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...main.map((r, k) => {
      const c = r.summary.change.overall!;
      const b = r.summary.change.blindSpots;
      const ctl = has('control') ? `${pct(runs.control[k].summary.stage1.accuracy)}% -> ${pct(s2(runs.control[k]).accuracy)}%` : 'not run';
      return `| ${r.summary.seed} | ${pct(r.summary.stage1.accuracy)}% | ${pct(s2(r).accuracy)}% | ${c.fixed} / ${c.broken} (${c.pValue.toPrecision(2)}) | ${b ? `${pct(b.before)} -> ${pct(b.after)}% (${b.n})` : '-'} | ${share1[k].map((s) => pct(s)).join(' / ')} | ${r.summary.stage1.meanLength.toFixed(1)} -> ${s2(r).meanLength.toFixed(1)} | ${ctl} | ${runSeconds(r).toFixed(0)} |`;
    }),
    '',
    `Pooled: **${signed(gain.gainPoints)} points** (${gain.fixed} fixed / ${gain.broken} broken, exact sign test p = ${gain.p.toPrecision(2)}); where the teacher misreads ${blind.fixed} / ${blind.broken}.`,
    '',
    '| variant | what | stage 1 -> stage 2, pooled (fixed / broken, p) | share of "1" range | ratio max | Pre-CLIP share max | filtered tokens | skipped / non-finite steps |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...variantNames.map((name) => {
      const v = variants[name];
      const s = v.stability;
      const shares = runs[name].flatMap((r) => r.summary.evals.map((e) => e.summary.answersOne));
      return `| ${name} | ${v.about} | ${signed(v.vsStage1.gainPoints)} (${v.vsStage1.fixed} / ${v.vsStage1.broken}, ${v.vsStage1.p.toPrecision(2)}) | ${pct(Math.min(...shares))}-${pct(Math.max(...shares))}% | ${Number.isFinite(s.ratioMax) ? s.ratioMax.toPrecision(3) : '-'} | ${Number.isFinite(s.preClipFraction) ? s.preClipFraction.toPrecision(2) : '-'} | ${s.filteredTokens} | ${s.nonFiniteOrSkipped} |`;
    }),
    '',
    '| claim | result | figures |',
    '| --- | --- | --- |',
    ...claims.map((c) => `| ${c.claim} | ${c.result} | ${JSON.stringify(c.figures, round4).replace(/\|/g, '/')} |`),
  ].join('\n');
  process.stdout.write('\n' + md + '\n');
  if (write) {
    writeSection('rl', md);
    log('wrote bench/rl.json and the "rl" section of bench/RESULTS.md');
  }
}

main().catch((e) => {
  process.stderr.write(`bench-rl: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
