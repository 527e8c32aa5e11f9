/**
 * One stage 1, several stage 2s: train(..., until) stops where a phase begins, forkRun copies the run with other
 * stage-2 settings, and a fork with unchanged settings finishes exactly as the uninterrupted run does.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../lib/cli/main';
import { PolicyModel } from '../../lib/model/policy-model';
import { findLatestCheckpoint } from '../../lib/train/checkpoint';
import { forkRun } from '../../lib/train/fork';
import { readMetrics } from '../../lib/train/metrics';
import { resolveTrainConfig } from '../../lib/train/presets';
import { RunFolderError } from '../../lib/train/run-folder';
import { train } from '../../lib/train/trainer';

const smoke = (over: object = {}) => resolveTrainConfig('smoke', { rl: { steps: 2 }, eval: { votingK: 1 } }, over);

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-fork-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What a finished run's stage 2 did: its RL metric lines (timing aside) and its final test outputs. */
function stage2Of(out: string) {
  const rl = readMetrics(path.join(out, 'metrics.jsonl'))
    .filter((l) => l.stage === 'rl')
    .map(({ seconds: _s, ...l }: Record<string, unknown>) => l);
  return { rl, outputs: JSON.parse(fs.readFileSync(path.join(out, 'evals', 'stage2.json'), 'utf8')) };
}

test('until stops before the phase with its checkpoint; a fork with the same settings finishes as the run would have', async () => {
  const c = smoke();
  const whole = path.join(dir, 'whole');
  expect((await train({ config: c, out: whole, report: false })).summary).not.toBeNull();

  const base = path.join(dir, 'base');
  const stopped = await train({ config: c, out: base, until: 'rl', report: false });
  expect(stopped).toMatchObject({ interrupted: false, summary: null, stoppedAt: 'rl' });
  expect((await findLatestCheckpoint(base))!.state.phase).toBe('rl');
  expect(fs.existsSync(path.join(base, 'summary.json'))).toBe(false);

  const fork = path.join(dir, 'fork');
  await forkRun(base, fork, c);
  // The fork holds the source's latest checkpoint only, and no lock.
  const checkpoints = (d: string) => fs.readdirSync(path.join(d, 'checkpoints')).filter((e) => e !== 'latest.json');
  expect(checkpoints(fork)).toEqual([(await findLatestCheckpoint(base))!.name]);
  expect(checkpoints(base).length).toBeGreaterThanOrEqual(1);
  expect(fs.existsSync(path.join(fork, 'run.lock'))).toBe(false);
  const r = await train({ config: c, out: fork, resume: true, report: false });
  expect(r.summary!.stage2!.accuracy).toBe(JSON.parse(fs.readFileSync(path.join(whole, 'summary.json'), 'utf8')).stage2.accuracy);
  expect(stage2Of(fork)).toEqual(stage2Of(whole));
  // The source is left as it was: still before stage 2, to fork again.
  expect((await findLatestCheckpoint(base))!.state.phase).toBe('rl');
});

test('a fork may change stage 2 and Voting@K, nothing that earlier phases used', async () => {
  const c = smoke();
  const base = path.join(dir, 'base');
  await train({ config: c, out: base, until: 'rl', report: false });

  const lr = smoke({ rl: { lr: 1e-3, samplesPerPrompt: 3 }, eval: { votingK: 2 } });
  await forkRun(base, path.join(dir, 'lr'), lr);
  const r = await train({ config: lr, out: path.join(dir, 'lr'), resume: true, report: false });
  expect(r.summary!.voting!.k).toBe(2);
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'lr', 'config.json'), 'utf8')).rl.lr).toBe(1e-3);
  expect(readMetrics(path.join(dir, 'lr', 'metrics.jsonl')).filter((l) => l.stage === 'rl').length).toBe(2);

  await expect(forkRun(base, path.join(dir, 'n'), smoke({ data: { n: 60 } }))).rejects.toThrow(/only rl\.\*, eval\.votingK.*not config\.data\.n/);
  await expect(forkRun(base, path.join(dir, 'e'), smoke({ eval: { maxNewTokens: 16 } }))).rejects.toThrow(/config\.eval\.maxNewTokens/);
  expect(fs.existsSync(path.join(dir, 'n'))).toBe(false);
  // After stage 2 only Voting@K may change.
  await expect(forkRun(path.join(dir, 'lr'), path.join(dir, 'late'), c)).rejects.toThrow(/phase "done"; nothing may change/);
  // The target must be missing or empty; the source a run.
  fs.mkdirSync(path.join(dir, 'full'));
  fs.writeFileSync(path.join(dir, 'full', 'x.txt'), 'x');
  await expect(forkRun(base, path.join(dir, 'full'), c)).rejects.toThrow(RunFolderError);
  await expect(forkRun(path.join(dir, 'nothing'), path.join(dir, 'f2'), c)).rejects.toThrow(/not a run folder/);
  await expect(forkRun(base, base, c)).rejects.toThrow(RangeError);
  await expect(forkRun(base, path.join(dir, 'bad'), { ...c, rl: { ...c.rl, lr: -1 } })).rejects.toThrow(/config\.rl\.lr/);
  await expect(train({ config: c, out: path.join(dir, 'u'), until: 'stage2' as never })).rejects.toThrow(/options\.until/);
  await expect(train({ config: lr, out: path.join(dir, 'lr'), resume: true, until: 'rl' })).rejects.toThrow(/already at phase "done", past "rl"/);
});

test('a fork before the final phase may vote with other sampling settings, and the voting draws with them', async () => {
  const c = smoke();
  const base = path.join(dir, 'base');
  await train({ config: c, out: base, until: 'final', report: false });
  const nucleus = smoke({ eval: { votingK: 2, votingTemperature: 0.8, votingTopP: 0.9 } });
  await forkRun(base, path.join(dir, 'p'), nucleus);
  const generate = jest.spyOn(PolicyModel.prototype, 'generate');
  try {
    const r = await train({ config: nucleus, out: path.join(dir, 'p'), resume: true, report: false });
    expect(r.summary!.voting!.sampling).toEqual({ temperature: 0.8, topP: 0.9 });
    // The model's nucleus sampling itself is tested in test/model (model.test.ts); here, that the settings reach it.
    const calls = generate.mock.calls.map(([, o]) => o);
    expect(calls.length).toBeGreaterThan(0);
    for (const o of calls) expect(o).toMatchObject({ n: 2, temperature: 0.8, topP: 0.9 });
  } finally {
    generate.mockRestore();
  }
  expect(() => smoke({ eval: { votingTopP: 0 } })).toThrow(/config\.eval\.votingTopP must be a number > 0 and <= 1, got 0/);
});

test('the CLI: --until, then --fork-from with a changed stage-2 setting', async () => {
  const err: string[] = [];
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => err.push(s) }, env: {} as NodeJS.ProcessEnv };
  const base = path.join(dir, 'base');
  const cfg = path.join(dir, 'c.json');
  fs.writeFileSync(cfg, JSON.stringify({ rl: { steps: 1 }, eval: { votingK: 1 } }));
  expect(await main(['train', '--preset', 'smoke', '--config', cfg, '--out', base, '--until', 'rl', '--quiet'], io)).toBe(0);
  expect(err.join('')).toMatch(/stopped before rl.*--fork-from/s);
  expect(await main(['train', '--fork-from', base, '--out', path.join(dir, 'f'), '--no-consistency', '--quiet'], io)).toBe(0);
  const forked = JSON.parse(fs.readFileSync(path.join(dir, 'f', 'config.json'), 'utf8'));
  expect(forked.rl).toMatchObject({ consistency: false, steps: 1 });
  expect(fs.existsSync(path.join(dir, 'f', 'summary.json'))).toBe(true);
  err.length = 0;
  expect(await main(['train', '--fork-from', base, '--out', path.join(dir, 'g'), '--seed', '5', '--quiet'], io)).toBe(2);
  expect(err.join('')).toMatch(/--fork-from: .*config\.seed/);
  expect(await main(['train', '--fork-from', base, '--quiet'], io)).toBe(2);
  expect(await main(['train', '--fork-from', base, '--out', path.join(dir, 'h'), '--preset', 'demo'], io)).toBe(2);
  expect(await main(['train', '--preset', 'smoke', '--until', 'sft', '--out', path.join(dir, 'i')], io)).toBe(2);
});
