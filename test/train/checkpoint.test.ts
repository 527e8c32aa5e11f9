/** Checkpoint files: optimizer state round trip, atomic replacement, the latest pointer, metrics truncation. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AdamW, PolicyModel, meanNllGradient } from '../../lib/model';
import { CheckpointState, findLatestCheckpoint, loadOptimizer, saveCheckpoint, saveOptimizer, initialCheckpointState } from '../../lib/train/checkpoint';
import { MetricsLog, readMetrics } from '../../lib/train/metrics';

const CFG = { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 8, patchSize: 4, maxSeqLen: 64 };
const batch = [0, 1, 2].map((i) => ({ image: new Uint8Array(192).fill(40 * i), prompt: `p${i}\n`, response: `<think>x${i}</think><answer>1</answer>` }));

async function step(model: PolicyModel, opt: AdamW): Promise<void> {
  const r = await model.logprobs(batch);
  await model.backward(meanNllGradient(r).grad);
  opt.step();
  model.zeroGrad();
}

const params = (m: PolicyModel) => m.parameters().map((p) => Array.from(p.value.toArray()));

function state(step: number): CheckpointState {
  const s = initialCheckpointState(0);
  return { ...s, step, optimizerSteps: step, rng: { ...s.rng, nextStep: step } };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-ckpt-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('model + AdamW state saved and restored continue exactly like the uninterrupted run', async () => {
  const a = PolicyModel.create(CFG, { seed: 1 });
  const optA = new AdamW(a, { lr: 1e-2 });
  for (let i = 0; i < 3; i++) await step(a, optA);
  await a.save(path.join(dir, 'm'));
  await saveOptimizer(path.join(dir, 'opt.safetensors'), optA);
  for (let i = 0; i < 2; i++) await step(a, optA);

  const b = await PolicyModel.load(path.join(dir, 'm'));
  const optB = new AdamW(b, { lr: 1e-2 });
  await loadOptimizer(path.join(dir, 'opt.safetensors'), optB, b, 3);
  expect(optB.stepCount).toBe(3);
  for (let i = 0; i < 2; i++) await step(b, optB);
  expect(params(b)).toEqual(params(a));

  // Without the moments the continuation differs: the restore above is what makes them equal.
  const c = await PolicyModel.load(path.join(dir, 'm'));
  const optC = new AdamW(c, { lr: 1e-2 });
  for (let i = 0; i < 2; i++) await step(c, optC);
  expect(params(c)).not.toEqual(params(a));
  for (const [m, o] of [
    [a, optA],
    [b, optB],
    [c, optC],
  ] as const) {
    o.dispose();
    m.dispose();
  }
});

test('each checkpoint is a new <seq>-<name> folder; the newest complete one is resumed from, whatever latest.json says', async () => {
  const m = PolicyModel.create(CFG, { seed: 2 });
  const opt = new AdamW(m);
  await saveCheckpoint(dir, 'sft-000002', m, opt, state(2));
  await saveCheckpoint(dir, 'sft-000004', m, opt, state(4));
  const root = path.join(dir, 'checkpoints');
  expect(fs.readdirSync(root).sort()).toEqual(['000002-sft-000004', 'latest.json']);
  expect(JSON.parse(fs.readFileSync(path.join(root, 'latest.json'), 'utf8')).checkpoint).toBe('000002-sft-000004');
  expect((await findLatestCheckpoint(dir))!.state.step).toBe(4);

  // A crash while writing the next one leaves a temporary folder behind: it is never used.
  fs.mkdirSync(path.join(root, '.tmp-000003-sft-000006-99999', 'model'), { recursive: true });
  expect((await findLatestCheckpoint(dir))!.name).toBe('000002-sft-000004');

  // Re-taking a checkpoint of the same name (after a resume) writes a new folder; the old one is never moved aside.
  await saveCheckpoint(dir, 'sft-000004', m, opt, { ...state(4), seconds: { sft: 1 } });
  expect((await findLatestCheckpoint(dir))!).toMatchObject({ name: '000003-sft-000004', state: { seconds: { sft: 1 } } });

  // A pointer to a folder that is gone or older (a crash between the rename and the pointer update): the newest wins.
  fs.writeFileSync(path.join(root, 'latest.json'), JSON.stringify({ checkpoint: 'sft-000099', phase: 'sft', step: 99 }));
  expect((await findLatestCheckpoint(dir))!.name).toBe('000003-sft-000004');
  expect(await findLatestCheckpoint(path.join(dir, 'nothing-here'))).toBeNull();
  await expect(saveCheckpoint(dir, '../x', m, opt, state(5))).rejects.toThrow(/checkpoint name must be a plain file name/);
  opt.dispose();
  m.dispose();
});

test('run folders of the layout before sequence numbers resume from latest.json, then by time; the next save replaces them', async () => {
  const m = PolicyModel.create(CFG, { seed: 2 });
  const opt = new AdamW(m);
  const root = path.join(dir, 'checkpoints');
  await saveCheckpoint(dir, 'sft-000002', m, opt, state(2));
  fs.renameSync(path.join(root, '000001-sft-000002'), path.join(root, 'sft-000002'));
  fs.writeFileSync(path.join(root, 'latest.json'), JSON.stringify({ checkpoint: 'sft-000002', phase: 'sft', step: 2 }));
  expect((await findLatestCheckpoint(dir))!).toMatchObject({ name: 'sft-000002', state: { step: 2 } });
  await saveCheckpoint(dir, 'sft-000004', m, opt, state(4));
  expect(fs.readdirSync(root).sort()).toEqual(['000001-sft-000004', 'latest.json']);
  opt.dispose();
  m.dispose();
});

test('metrics.jsonl is cut back to the checkpoint length on resume; a torn last line is ignored when reading', () => {
  const file = path.join(dir, 'metrics.jsonl');
  const log = new MetricsLog(file, 0, 0);
  log.append({ stage: 'sft', step: 1, globalStep: 1 });
  log.append({ stage: 'sft', step: 2, globalStep: 2 });
  const at = { bytes: log.bytes, lines: log.lines };
  log.append({ stage: 'sft', step: 3, globalStep: 3 });
  log.close();
  fs.appendFileSync(file, '{"stage":"sft","st'); // killed mid-write
  expect(readMetrics(file).map((l) => l.step)).toEqual([1, 2, 3]);
  const resumed = new MetricsLog(file, at.bytes, at.lines);
  resumed.append({ stage: 'sft', step: 3, globalStep: 3, again: true });
  resumed.close();
  const lines = readMetrics(file);
  expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
  expect(lines[2].again).toBe(true);
  expect(() => new MetricsLog(path.join(dir, 'short.jsonl'), 0, 0)).not.toThrow();
  fs.writeFileSync(path.join(dir, 'short.jsonl'), 'x');
  expect(() => new MetricsLog(path.join(dir, 'short.jsonl'), 100, 1)).toThrow(/fewer than the 100 recorded/);
});
