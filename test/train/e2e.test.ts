/**
 * End to end: the `smoke` preset through the real command line in child processes.
 *  - a complete run: every artefact is there and consistent (metrics, checkpoints, evals, report, PNGs);
 *  - kill -9 twice at arbitrary moments, --resume each time: the metrics are those of the uninterrupted
 *    run, step for step (no gap, no repeat), and the numbers match (every draw is derived from the seed);
 *  - Ctrl-C (SIGINT) stops with a checkpoint and exit code 130, --resume finishes;
 *  - injected non-finite gradients are skipped and logged, and training goes on.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PolicyModel } from '../../lib/model';
import { readMetrics, type StepLine } from '../../lib/train/metrics';
import type { RunSummary } from '../../lib/train/types';

const RUNNER = path.join(__dirname, 'helpers', 'run-cli.js');
jest.setTimeout(240_000);

let root: string;
let cfgFile: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-e2e-'));
  // The smoke preset with a few more steps, so that there is time to kill the run in each phase. The smoke model's
  // rollouts all get reward 0, so the dynamic filter would drop every prompt: off here, every step makes its update
  // (8 rollouts in micro-batches of 4, one AdamW step).
  cfgFile = path.join(root, 'longer.json');
  fs.writeFileSync(
    cfgFile,
    JSON.stringify({ sft: { epochs: 3, checkpointEvery: 3 }, rl: { steps: 6, checkpointEvery: 2, evalEvery: 3, dynamicFilter: false } }),
  );
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [RUNNER, 'train', ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

function lineCount(file: string): number {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.endsWith('}')).length;
  } catch {
    return 0;
  }
}

/** Starts a run and SIGKILLs it as soon as metrics.jsonl has `lines` lines. */
async function killAt(args: string[], out: string, lines: number): Promise<void> {
  const { child, done } = start(args);
  const file = path.join(out, 'metrics.jsonl');
  const timer = setInterval(() => {
    if (lineCount(file) >= lines) child.kill('SIGKILL');
  }, 5);
  const r = await done;
  clearInterval(timer);
  if (r.signal !== 'SIGKILL') throw new Error(`the run ended (code ${r.code}) before it could be killed at ${lines} lines:\n${r.stderr}`);
}

const DETERMINISTIC = [
  'stage',
  'step',
  'globalStep',
  'task',
  'captionCells',
  'loss',
  'gradNorm',
  'lr',
  'tokens',
  'skipped',
  'reward',
  'result',
  'format',
  'consistency',
  'accuracy',
  'responseLength',
  'ratioMax',
  'clipFraction',
  'filtered',
  'kl',
  'klEstimate',
  'share1',
  'keptGroups',
  'rolloutsPerUpdate',
  'updates',
  'eval',
];

function comparable(l: StepLine): Record<string, unknown> {
  return Object.fromEntries(DETERMINISTIC.filter((k) => k in l).map((k) => [k, l[k]]));
}

describe('smoke preset, end to end', () => {
  let ref: { out: string; metrics: StepLine[]; summary: RunSummary };

  beforeAll(async () => {
    const out = path.join(root, 'ref');
    const r = await start(['--preset', 'smoke', '--config', cfgFile, '--out', out, '--no-progress']).done;
    if (r.code !== 0) throw new Error(`reference run failed (${r.code}):\n${r.stderr}`);
    expect(r.stdout).toMatch(/Test accuracy after stage 1 \(SFT\): \d+\.\d%/);
    expect(r.stdout).toMatch(/Report: .*report\.html/);
    expect(r.stderr).toMatch(
      /stage 2 regime: baseline rloo, dynamic filter off, KL k3 0\.05 in the loss; 1 pass\(es\) per step, one AdamW step per pass; lr 0\.0003 \(warm-up 0 steps, cosine to 0\.1x\), betas 0\.9\/0\.95, weight decay 0/,
    );
    ref = { out, metrics: readMetrics(path.join(out, 'metrics.jsonl')), summary: JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) };
  });

  test('a complete run leaves consistent artefacts', async () => {
    const { out, metrics, summary } = ref;
    const sft = metrics.filter((l) => l.stage === 'sft');
    const rl = metrics.filter((l) => l.stage === 'rl');
    expect(sft.length).toBe(summary.sftSteps);
    // stage 1 = the vision warm-up's caption steps, then 3 epochs of teacher analyses (with captions mixed in)
    expect(summary.sftSteps).toBe(4 + 3 * Math.ceil(summary.data.train / 8));
    expect(sft.map((l) => l.task)).toEqual([...Array(4).fill('caption'), ...Array(summary.sftSteps - 4).fill('analysis')]);
    expect(summary.vision!.n).toBe(summary.data.test);
    expect(summary.vision!.cells).toBeGreaterThanOrEqual(0);
    expect(summary.lines.join('\n')).toMatch(/Caption test after stage 1: \d+\.\d% of the \d+ test images' grid cells read right/);
    expect(rl.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(metrics.map((l) => l.globalStep)).toEqual(metrics.map((_, i) => i + 1));
    for (const l of rl) {
      for (const k of [
        'reward',
        'result',
        'format',
        'consistency',
        'accuracy',
        'responseLength',
        'loss',
        'ratioMax',
        'clipFraction',
        'filtered',
        'kl',
        'klEstimate',
        'share1',
        'lr',
        'gradNorm',
        'seconds',
      ]) {
        expect(l).toHaveProperty(k);
      }
      // 4 prompts x 2 samples = 8 rollouts, all kept (no dynamic filter here): one AdamW step of 8, 1 pass
      expect(l).toMatchObject({ groups: 4, keptGroups: 4, rolloutsPerUpdate: 8, updates: 1 });
    }
    // evaluations: after stage 1 (last SFT step), every 3 RL steps, at the end
    expect(metrics.filter((l) => l.eval).map((l) => (l.eval as { tag: string }).tag)).toEqual(['stage1', 'rl-3', 'stage2']);
    expect(summary.evals.map((e) => e.tag)).toEqual(['stage1', 'rl-3', 'stage2']);
    expect(summary.stage1.n).toBe(summary.data.test);
    const hist = summary.difficulty!.histogram;
    expect(Object.values(hist).reduce((a, b) => a + b, 0)).toBe(summary.data.train);
    expect(summary.voting!.k).toBe(3);
    expect(Object.keys(summary.voting!.votingAtK)).toEqual(['1', '2', '3']);
    // The share of samples that cast no vote is counted, not assumed away.
    expect(summary.voting!.unreadable).toBeGreaterThanOrEqual(0);
    expect(summary.voting!.unreadable).toBeLessThanOrEqual(1);
    expect(summary.lines.join('\n')).toMatch(/Wall time: data \d+s, sft \d+s, difficulty \d+s, rl \d+s, final \d+s/);
    // checkpoints: only the final one is kept (<seq>-done); the pointer names it; the lock is given back
    const [final, pointer] = fs.readdirSync(path.join(out, 'checkpoints')).sort();
    expect([final, pointer]).toEqual([expect.stringMatching(/^\d{6}-done$/), 'latest.json']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'latest.json'), 'utf8'))).toMatchObject({ checkpoint: final, phase: 'done' });
    expect(fs.existsSync(path.join(out, 'run.lock'))).toBe(false);
    // models load
    for (const d of ['stage1-model', 'model']) {
      const m = await PolicyModel.load(path.join(out, d));
      expect(m.config.dModel).toBe(32);
      m.dispose();
    }
    // report: self-contained HTML with inline SVG and the stage boundary; PNG copies
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('stage 1 | stage 2');
    expect(html).not.toMatch(/<script|<link |src="http/);
    for (const name of ['reward', 'accuracy', 'length', 'loss', 'voting', 'diagnostics']) {
      const png = fs.readFileSync(path.join(out, 'plots', `${name}.png`));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    }
  });

  test('kill -9 twice at arbitrary moments, --resume each time: the same run, no gap, no repeat', async () => {
    const out = path.join(root, 'killed');
    const args = ['--preset', 'smoke', '--config', cfgFile, '--out', out, '--quiet'];
    const sftSteps = ref.summary.sftSteps;
    await killAt(args, out, 4); // during stage 1
    const mid = readMetrics(path.join(out, 'metrics.jsonl')).length;
    expect(mid).toBeGreaterThanOrEqual(4);
    await killAt([...args, '--resume'], out, sftSteps + 3); // during stage 2
    const r = await start([...args, '--resume']).done;
    expect(r.code).toBe(0);
    const got = readMetrics(path.join(out, 'metrics.jsonl'));
    expect(got.map((l) => `${l.stage}:${l.step}`)).toEqual(ref.metrics.map((l) => `${l.stage}:${l.step}`));
    expect(got.map(comparable)).toEqual(ref.metrics.map(comparable));
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.stage2).toEqual(ref.summary.stage2);
    expect(summary.voting).toEqual(ref.summary.voting);
    // What the kills left (temporaries, stale locks) was cleaned up by the resumed runs.
    expect(fs.readdirSync(path.join(out, 'checkpoints')).sort()).toEqual([expect.stringMatching(/^\d{6}-done$/), 'latest.json']);
    expect(fs.readdirSync(out).sort()).toEqual(fs.readdirSync(ref.out).sort());
  });

  test('SIGINT stops after the current step with a checkpoint (exit 130); --resume completes the run', async () => {
    const out = path.join(root, 'interrupted');
    const args = ['--preset', 'smoke', '--config', cfgFile, '--out', out, '--quiet'];
    const { child, done } = start(args);
    const file = path.join(out, 'metrics.jsonl');
    let sent = false;
    const timer = setInterval(() => {
      if (!sent && lineCount(file) >= 2) sent = child.kill('SIGINT'); // once: a second Ctrl-C may end the process
    }, 5);
    const r = await done;
    clearInterval(timer);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Continue with: stable-reinforce train --resume --out /);
    const latest = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', 'latest.json'), 'utf8'));
    const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints', latest.checkpoint, 'state.json'), 'utf8'));
    expect(readMetrics(file).length).toBe(state.metricsLines); // nothing logged after the checkpoint
    const r2 = await start([...args, '--resume']).done;
    expect(r2.code).toBe(0);
    expect(readMetrics(file).map(comparable)).toEqual(ref.metrics.map(comparable));
  });

  test('--resume refuses a different configuration, and a second run into the same folder', async () => {
    const r = await start(['--preset', 'smoke', '--config', cfgFile, '--out', ref.out, '--seed', '5', '--resume', '--quiet']).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/configuration differs .*\n\s+config\.seed: 0 -> 5/);
    const r2 = await start(['--preset', 'smoke', '--out', ref.out, '--quiet']).done;
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/already holds a run/);
  });

  test.each([
    [['--algo', 'grpo'], 'grpo', { preClip: false, filter: false, consistency: false, baseline: 'grpo', dynamicFilter: false }],
    [['--algo', 'reinforce++'], 'reinforce++', { preClip: false, filter: false, consistency: false, baseline: 'none', dynamicFilter: false }],
    [
      ['--no-preclip', '--no-filter', '--no-consistency'],
      'stable-reinforce',
      { preClip: false, filter: false, consistency: false, baseline: 'rloo', dynamicFilter: true },
    ],
  ])('%j runs through and records the algorithm and switches', async (flags, algo, switches) => {
    const out = path.join(root, `algo-${(flags as string[]).join('').replace(/\W+/g, '')}`);
    const cfg = path.join(root, 'short.json');
    fs.writeFileSync(cfg, JSON.stringify({ rl: { steps: 2, evalEvery: 2 }, eval: { votingK: 2 } }));
    const r = await start(['--preset', 'smoke', '--config', cfg, '--out', out, '--quiet', ...(flags as string[])]).done;
    expect(r.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.algo).toBe(algo);
    expect(summary.switches).toEqual(switches);
    const rl = readMetrics(path.join(out, 'metrics.jsonl')).filter((l) => l.stage === 'rl');
    expect(rl).toHaveLength(2);
    for (const l of rl) {
      // one AdamW step of the kept rollouts per step (none when the dynamic filter keeps no prompt)
      if (!(switches as { dynamicFilter: boolean }).dynamicFilter) expect(l.keptGroups).toBe(4);
      expect(l.updates).toBe((l.keptGroups as number) > 0 ? 1 : 0);
      expect(l.rolloutsPerUpdate).toBe((l.keptGroups as number) > 0 ? 2 * (l.keptGroups as number) : null);
    }
  });

  test('vision.untilLoss ends the warm-up on the caption loss, then vision.lookupSteps, the same after kill -9 and --resume', async () => {
    const cfg = path.join(root, 'until.json');
    // Any loss is below 100: the warm-up ends as soon as the 50-step window is full.
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        vision: { steps: 200, untilLoss: 100, lookupSteps: 6, lookupShare: 0.5 },
        sft: { epochs: 1, checkpointEvery: 7 },
        rl: { steps: 2, evalEvery: 2 },
        eval: { votingK: 0 },
      }),
    );
    const whole = path.join(root, 'until-whole');
    const r = await start(['--preset', 'smoke', '--config', cfg, '--out', whole, '--no-progress']).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/vision warm-up: up to 200 caption steps of 4, until the caption loss is below 100/);
    expect(r.stderr).toMatch(/vision warm-up done after 50 steps: caption loss \d+\.\d+ \(mean of the last 50\) < 100/);
    const m = readMetrics(path.join(whole, 'metrics.jsonl')).filter((l) => l.stage === 'sft');
    expect(m.filter((l) => l.task === 'caption').map((l) => l.step)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(r.stderr).toMatch(/stage 1 lookup warm-up: 6 steps of 4 cell lookups after the task prompt/);
    expect(m.slice(50, 56).map((l) => [l.task, l.step])).toEqual(Array.from({ length: 6 }, (_, i) => ['lookup', 51 + i]));
    expect(m[56]).toMatchObject({ task: 'analysis', step: 57 });
    const summary = JSON.parse(fs.readFileSync(path.join(whole, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.vision!.lookup).toBeGreaterThanOrEqual(0);
    expect(summary.vision!.lookup).toBeLessThanOrEqual(1);
    const cut = path.join(root, 'until-cut');
    await killAt(['--preset', 'smoke', '--config', cfg, '--out', cut, '--no-progress'], cut, 30);
    const r2 = await start(['--preset', 'smoke', '--config', cfg, '--out', cut, '--no-progress', '--resume']).done;
    expect(r2.code).toBe(0);
    const m2 = readMetrics(path.join(cut, 'metrics.jsonl')).filter((l) => l.stage === 'sft');
    expect(m2.map(comparable)).toEqual(m.map(comparable));
    // A phase's line is said while the phase is ahead (resumed in the warm-up), not by a run resumed past it.
    expect(r2.stderr).toMatch(/stage 1 lookup warm-up: 6 steps/);
    const late = path.join(root, 'until-late');
    await killAt(['--preset', 'smoke', '--config', cfg, '--out', late, '--no-progress'], late, 60);
    const r3 = await start(['--preset', 'smoke', '--config', cfg, '--out', late, '--no-progress', '--resume']).done;
    expect(r3.code).toBe(0);
    expect(r3.stderr).not.toMatch(/lookup warm-up/);
    expect(
      readMetrics(path.join(late, 'metrics.jsonl'))
        .filter((l) => l.stage === 'sft')
        .map(comparable),
    ).toEqual(m.map(comparable));
  });

  test('injected non-finite gradients are skipped, logged, and training continues', async () => {
    const out = path.join(root, 'nonfinite');
    const cfg = path.join(root, 'nonfinite.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({ rl: { steps: 3, evalEvery: 3, dynamicFilter: false }, eval: { votingK: 0 }, debug: { nonFiniteSteps: { sft: [2], rl: [1] } } }),
    );
    const r = await start(['--preset', 'smoke', '--config', cfg, '--out', out, '--no-progress']).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stage 1 step 2: skipped \(non-finite grad-norm\); the weights were not updated/);
    expect(r.stderr).toMatch(/stage 2 step 1: 1 of 1 update\(s\) skipped/);
    const m = readMetrics(path.join(out, 'metrics.jsonl'));
    const sft2 = m.find((l) => l.stage === 'sft' && l.step === 2)!;
    expect(sft2).toMatchObject({ skipped: true, skipReason: 'grad-norm', gradNorm: null });
    expect(m.filter((l) => l.stage === 'sft' && l.step !== 2).every((l) => l.skipped === false && Number.isFinite(l.loss as number))).toBe(true);
    const rl1 = m.find((l) => l.stage === 'rl' && l.step === 1)!;
    expect(rl1).toMatchObject({ skippedUpdates: 1, updates: 1, gradNorm: null, skipReasons: ['grad-norm'] });
    expect(m.find((l) => l.stage === 'rl' && l.step === 2)).toMatchObject({ skippedUpdates: 0 });
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.skippedUpdates).toBe(2);
    expect(summary.lines.join('\n')).toMatch(/2 update\(s\) had a non-finite loss or gradient and were skipped/);
    const model = await PolicyModel.load(path.join(out, 'model'));
    for (const p of model.parameters()) expect((p.value.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});
