/**
 * Crash points of a checkpoint write (issue 18): a writer logs steps 1..6 and checkpoints after steps 2, 4, 6;
 * it dies at every step of the write sequence (a real SIGKILL of a child process, and in-process by throwing at
 * each point of each of the three writes). Resuming must take the newest complete checkpoint (the one being
 * written once it was renamed into place, else the previous one), load it (model and AdamW state equal to the
 * uninterrupted writer's at that step), cut metrics.jsonl back so that redoing the steps logs each exactly once,
 * and the run folder's clean-up must remove what the killed writer left.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AdamW, PolicyModel, meanNllGradient } from '../../lib/model';
import { CheckpointState, CheckpointWritePoint, findLatestCheckpoint, loadOptimizer, saveCheckpoint, initialCheckpointState } from '../../lib/train/checkpoint';
import { MetricsLog, readMetrics } from '../../lib/train/metrics';
import { openRunFolder } from '../../lib/train/run-folder';

const CHILD = path.join(__dirname, 'helpers', 'checkpoint-crash-child.js');
const CFG = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 8, patchSize: 4, maxSeqLen: 64 };
const POINTS: CheckpointWritePoint[] = [
  'tmp-created',
  'model-written',
  'optimizer-written',
  'state-written',
  'tmp-synced',
  'renamed',
  'root-synced',
  'pointer-written',
  'old-moved',
  'old-removed',
];
/** From this point on the new checkpoint is in place and is the one to resume from. */
const RENAMED = POINTS.indexOf('renamed');
jest.setTimeout(180_000);

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-ckpt-crash-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

class Crash extends Error {}

/** The writer of the child process, in-process: throws at `point` of write number `crashAt` (0: never). */
async function writer(
  runDir: string,
  point: CheckpointWritePoint | null,
  crashAt: number,
  onStep?: (step: number, model: PolicyModel, opt: AdamW) => void,
): Promise<void> {
  const model = PolicyModel.create(CFG, { seed: 1 });
  const opt = new AdamW(model, { lr: 1e-2 });
  const metrics = new MetricsLog(path.join(runDir, 'metrics.jsonl'), 0, 0);
  try {
    let writes = 0;
    for (let step = 1; step <= 6; step++) {
      const r = await model.logprobs([{ prompt: 'p\n', response: `<answer>${(step % 2) + 1}</answer>` }]);
      await model.backward(meanNllGradient(r).grad);
      opt.step();
      model.zeroGrad();
      metrics.append({ stage: 'sft', step, globalStep: step, loss: meanNllGradient(r).loss });
      onStep?.(step, model, opt);
      if (step % 2 !== 0) continue;
      metrics.sync();
      const n = ++writes;
      await saveCheckpoint(runDir, `sft-${String(step).padStart(6, '0')}`, model, opt, stateAt(step, metrics, opt), [], (p) => {
        if (n === crashAt && p === point) throw new Crash(p);
      });
    }
  } finally {
    metrics.close();
    opt.dispose();
    model.dispose();
  }
}

function stateAt(step: number, metrics: MetricsLog, opt: AdamW): CheckpointState {
  const s = initialCheckpointState(0);
  return { ...s, step, optimizerSteps: opt.stepCount, rng: { ...s.rng, nextStep: step }, metricsBytes: metrics.bytes, metricsLines: metrics.lines };
}

/** The uninterrupted writer's parameters, AdamW moments and losses after each step. */
let reference: { params: number[][]; m: number[][]; losses: unknown[] }[];
beforeAll(async () => {
  const dir = path.join(root, 'reference');
  fs.mkdirSync(dir);
  reference = [];
  await writer(dir, null, 0, (step, model, opt) => {
    reference[step] = {
      params: model.parameters().map((p) => Array.from(p.value.toArray())),
      m: opt.state().moments.map((x) => Array.from(x.m)),
      losses: readMetrics(path.join(dir, 'metrics.jsonl')).map((l) => l.loss),
    };
  });
});

/** Resumes `runDir`: the checkpoint it takes (checked against the reference) and the metrics after redoing steps up to 8. */
async function resumeAndCheck(runDir: string, expectStep: number | null): Promise<void> {
  const ckpt = await findLatestCheckpoint(runDir);
  expect(ckpt?.state.step ?? null).toBe(expectStep);
  const file = path.join(runDir, 'metrics.jsonl');
  if (ckpt) {
    const model = await PolicyModel.load(path.join(ckpt.dir, 'model'));
    const opt = new AdamW(model, { lr: 1e-2 });
    await loadOptimizer(path.join(ckpt.dir, 'optimizer.safetensors'), opt, model, ckpt.state.optimizerSteps);
    expect(model.parameters().map((p) => Array.from(p.value.toArray()))).toEqual(reference[expectStep!].params);
    expect(opt.state().moments.map((x) => Array.from(x.m))).toEqual(reference[expectStep!].m);
    expect(opt.stepCount).toBe(expectStep);
    opt.dispose();
    model.dispose();
  }
  const done = ckpt?.state.step ?? 0;
  const log = new MetricsLog(file, ckpt?.state.metricsBytes ?? 0, ckpt?.state.metricsLines ?? 0);
  for (let step = done + 1; step <= 8; step++) log.append({ stage: 'sft', step, globalStep: step, redone: true });
  log.close();
  const lines = readMetrics(file);
  expect(lines.map((l) => l.globalStep)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  // The lines kept are the writer's own (up to the checkpoint), the rest are redone: none lost, none twice.
  expect(lines.slice(0, done).map((l) => l.loss)).toEqual(reference[6].losses.slice(0, done));
  expect(lines.slice(done).every((l) => l.redone === true)).toBe(true);
}

describe('crash at every point of the checkpoint write', () => {
  // Write 1 has no previous checkpoint (a crash before its rename resumes from the start), writes 2 and 3 have one.
  const cases: Array<[CheckpointWritePoint, number]> = [];
  for (const write of [1, 2, 3]) for (const p of POINTS) if (write > 1 || (p !== 'old-moved' && p !== 'old-removed')) cases.push([p, write]);

  test.each(cases)('thrown at %s of write %i: resume takes the newest complete checkpoint, no step lost or logged twice', async (point, write) => {
    const dir = path.join(root, `throw-${write}-${point}`);
    fs.mkdirSync(dir);
    await expect(writer(dir, point, write)).rejects.toThrow(Crash);
    const renamed = POINTS.indexOf(point) >= RENAMED;
    await resumeAndCheck(dir, renamed ? 2 * write : write > 1 ? 2 * (write - 1) : null);
  });

  test('a real SIGKILL of a child process at each point of the third write; the clean-up removes what it left', async () => {
    const run = (dir: string, point: string) =>
      new Promise<{ signal: string | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CHILD, dir, point, '3'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (_code, signal) => resolve({ signal, stderr }));
      });
    // Two children at a time.
    const results: Record<string, { signal: string | null; stderr: string }> = {};
    for (let i = 0; i < POINTS.length; i += 2) {
      await Promise.all(POINTS.slice(i, i + 2).map(async (p) => (results[p] = await run(path.join(root, `kill-${p}`), p))));
    }
    for (const [i, point] of POINTS.entries()) {
      const dir = path.join(root, `kill-${point}`);
      expect([point, results[point].signal, results[point].stderr]).toEqual([point, 'SIGKILL', '']);
      // What a resumed train() does first: take over the stale lock and remove the killed writer's temporaries.
      const folder = openRunFolder(dir, { resume: true });
      folder.release();
      const leftovers = fs.readdirSync(path.join(dir, 'checkpoints')).filter((e) => e.startsWith('.'));
      expect([point, leftovers]).toEqual([point, []]);
      expect(fs.readdirSync(dir).sort()).toEqual(['checkpoints', 'config.json', 'metrics.jsonl']);
      await resumeAndCheck(dir, i >= RENAMED ? 6 : 4);
    }
  });
});
