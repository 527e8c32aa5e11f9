/**
 * The backbone's pretraining (lib/train/pretrain): the tasks' shapes and determinism, the held-out probes, the
 * exclusion of test rows, an exact resume, and the export (bf16 weights, sha256, model card).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../../lib/data/rng';
import { CAPTION_PROMPT, sceneCaption } from '../../lib/data/scene';
import { PolicyModel } from '../../lib/model';
import { sha256File } from '../../lib/model/backbone';
import { exportBackbone } from '../../lib/train/pretrain/export';
import { pretrain, sampleKey, testSplitKeys, type PretrainConfig } from '../../lib/train/pretrain/pretrain';
import { PRETRAIN_TASKS, type TaskContext, pretrainSample, probeSet, taskExample, trainBatch } from '../../lib/train/pretrain/tasks';

jest.setTimeout(120_000);

const ctx: TaskContext = { seed: 3, grid: 3, imageSize: 48, levels: [1, 2, 3, 4] };

describe('pretraining tasks', () => {
  test('each task has the documented input and target', () => {
    const s = pretrainSample(ctx, 'train', 5);
    const caption = sceneCaption(s.scene);
    const r = new Rng(1);
    const cap = taskExample('caption', s, r, 48);
    expect(cap.prompt).toBe(CAPTION_PROMPT);
    expect(cap.response).toBe(caption);
    expect(cap.image).toHaveLength(48 * 48 * 3);
    const recall = taskExample('recall', s, r, 48);
    expect(recall.image).toBeNull();
    expect(recall.prompt.startsWith(caption + '\nDescribe the ')).toBe(true);
    // Every recalled line is a line of the caption.
    for (const line of recall.response.split('\n')) expect(caption.split('\n')).toContain(line);
    const ev = taskExample('evidence', s, r, 48);
    expect(ev.prompt).toContain(s.question);
    // The caption, matches of the question marked (" #2"), then the lines of the cells the question names.
    expect(ev.response.replace(/ #\d+| \([a-z ]+ \d+\)/g, '').startsWith(caption)).toBe(true);
    const fact = taskExample('fact', s, r, 48);
    expect(fact.image).toBeNull();
    const factLines = fact.response.split('\n');
    expect(factLines[factLines.length - 2]).toMatch(/^The image shows .+\.$/);
    expect(factLines[factLines.length - 1]).toMatch(/^The answer is .+\.$/);
    const check = taskExample('check', s, r, 48);
    expect(check.prompt).toBe(
      `${caption}\n${factLines[factLines.length - 2]}\nQ: ${s.question}\nResponse 1: ${s.response1}\nResponse 2: ${s.response2}\nCheck the responses.\n`,
    );
    expect(check.response.split('\n').slice(0, 3)).toEqual([
      factLines[factLines.length - 1],
      expect.stringMatching(/^Response 1 says .+: (right|wrong)\.$/),
      expect.stringMatching(/^Response 2 says .+: (right|wrong)\.$/),
    ]);
    // No task writes a verdict.
    for (const t of PRETRAIN_TASKS) {
      const e = taskExample(t, s, new Rng(2), 48);
      expect(`${e.prompt}${e.response}`).not.toMatch(/<answer>|better/);
    }
  });

  test('the check target is the teacher analysis: the right response is "right", the flawed one "wrong" in its answer or a detail', () => {
    let answerErrors = 0;
    let detailErrors = 0;
    for (let i = 0; i < 80; i++) {
      const s = pretrainSample(ctx, 'train', i);
      const lines = taskExample('check', s, new Rng(i), 48).response.split('\n');
      const answer = /^The answer is (.+)\.$/.exec(lines[0])![1];
      const flawed = 3 - s.label;
      expect(lines[s.label]).toBe(`Response ${s.label} says ${answer}: right.`);
      if (lines[flawed].endsWith(': wrong.')) {
        expect(lines).toHaveLength(3);
        answerErrors++;
      } else {
        expect(lines[flawed]).toBe(`Response ${flawed} says ${answer}: right.`);
        // Response 1's details, each against the image, up to the first wrong one (the last line, when it is flawed).
        const details = lines.slice(3);
        expect(details.length).toBeGreaterThan(0);
        for (const l of details) expect(l).toMatch(/^Response 1 also says .+; the image has .+: (right|wrong)\.$/);
        expect(details.filter((l) => l.endsWith(': wrong.'))).toHaveLength(flawed === 1 ? 1 : 0);
        if (flawed === 1) expect(details[details.length - 1]).toMatch(/: wrong\.$/);
        detailErrors++;
      }
    }
    expect(answerErrors).toBeGreaterThan(20);
    expect(detailErrors).toBeGreaterThan(5);
  });

  test('a batch is a function of (seed, step); steps, seeds and the probe stream differ', () => {
    const a = trainBatch(ctx, 7, 12, () => false);
    const b = trainBatch(ctx, 7, 12, () => false);
    expect(b.map((e) => [e.task, e.prompt, e.response])).toEqual(a.map((e) => [e.task, e.prompt, e.response]));
    const other = trainBatch(ctx, 8, 12, () => false).map((e) => e.prompt);
    expect(other).not.toEqual(a.map((e) => e.prompt));
    expect(trainBatch({ ...ctx, seed: 4 }, 7, 12, () => false).map((e) => e.prompt)).not.toEqual(a.map((e) => e.prompt));
    const probes = probeSet(ctx, 5);
    expect(probes).toHaveLength(5 * PRETRAIN_TASKS.length);
    const trainPrompts = new Set(Array.from({ length: 20 }, (_, s) => trainBatch(ctx, s, 16, () => false).map((e) => e.prompt + e.response)).flat());
    expect(probes.filter((p) => trainPrompts.has(p.prompt + p.response)).length).toBeLessThanOrEqual(1);
  });

  test('samples the skip function refuses are never in a batch', () => {
    const refused = new Set(trainBatch(ctx, 0, 16, () => false).map((e) => e.prompt));
    let skipped = 0;
    const batch = trainBatch(ctx, 0, 16, (s) => {
      const hit = s.question.includes('red');
      skipped += Number(hit);
      return hit;
    });
    expect(skipped).toBeGreaterThan(0);
    expect(batch).toHaveLength(16);
    for (const e of batch) expect(e.prompt + e.response).not.toMatch(/Q: [^\n]*red/);
    expect(refused.size).toBeGreaterThan(0);
  });

  test('testSplitKeys lists every test row of a split', () => {
    const keys = testSplitKeys([{ n: 40, seed: 9, testFraction: 0.25 }]);
    expect(keys.size).toBe(10);
    expect([...keys][0]).toMatch(/^\{"grid":3,.*\|.+\?$/);
    expect(sampleKey({ grid: 3 }, 'Q?')).toBe('{"grid":3}|Q?');
  });
});

describe('pretrain run', () => {
  let root: string;
  beforeAll(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-pretrain-'))));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const tiny: Partial<PretrainConfig> = {
    seed: 1,
    steps: 8,
    batchSize: 4,
    warmupSteps: 2,
    checkpointEvery: 3,
    probeEvery: 4,
    probePerTask: 2,
    bpeMerges: 64,
    model: { dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 48, patchSize: 16, maxSeqLen: 384, imagePositions: 'before-response' },
  };
  const excludeSplits = [{ n: 20, seed: 0, testFraction: 0.25 }];

  test('a run stopped and resumed ends with the weights of an uninterrupted one; export writes a bf16 backbone with its card', async () => {
    const whole = path.join(root, 'whole');
    const parts = path.join(root, 'parts');
    await pretrain({ out: whole, config: tiny, excludeSplits });
    const first = await pretrain({ out: parts, config: tiny, excludeSplits, stopAfter: 5 });
    expect(first.state.step).toBe(5);
    const second = await pretrain({ out: parts, resume: true, excludeSplits });
    expect(second.state.step).toBe(8);
    const a = await PolicyModel.load(path.join(whole, 'checkpoint', 'model'));
    const b = await PolicyModel.load(path.join(parts, 'checkpoint', 'model'));
    expect(b.parameters().map((p) => p.name)).toEqual(a.parameters().map((p) => p.name));
    const values = (m: PolicyModel) => m.parameters().map((p) => p.value.toArray() as Float32Array);
    const va = values(a);
    const vb = values(b);
    va.forEach((v, i) => expect(Buffer.from(vb[i].buffer).equals(Buffer.from(v.buffer))).toBe(true));
    const skills = fs
      .readFileSync(path.join(whole, 'skills.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(skills.map((l) => l.step)).toEqual([4, 8]);
    for (const t of PRETRAIN_TASKS) expect(skills[1].skills[t].exact).toBeGreaterThanOrEqual(0);

    // A new run refuses a folder that holds one.
    await expect(pretrain({ out: whole, config: tiny, excludeSplits })).rejects.toThrow(/not empty: continue it with --resume/);

    const dir = path.join(root, 'backbone');
    const r = await exportBackbone(whole, dir);
    expect(r.step).toBe(8);
    expect(r.sha256).toBe(sha256File(path.join(dir, 'model.safetensors')));
    const header = fs.readFileSync(path.join(dir, 'model.safetensors'));
    expect(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString()).toContain('"BF16"');
    const card = fs.readFileSync(path.join(dir, 'card.md'), 'utf8');
    expect(card).toContain('8 steps of 4 examples');
    expect(card).toMatch(/\| recall \| 10% \| \d+\.\d% \| \d+\.\d% \|/);
    const loaded = await PolicyModel.load(dir);
    // bf16 keeps ~3 significant digits of every weight.
    values(loaded).forEach((v, i) => {
      for (let k = 0; k < v.length; k += 7) expect(Math.abs(v[k] - va[i][k])).toBeLessThanOrEqual(Math.abs(va[i][k]) / 128 + 1e-30);
    });
    for (const m of [a, b, loaded]) m.dispose();
  });

  test('a run with init starts from that model (weights and tokenizer), and its card tells what the weights came from', async () => {
    const first = path.join(root, 'first');
    await pretrain({ out: first, config: tiny, excludeSplits });
    const init = path.join(first, 'checkpoint', 'model');
    const cont = path.join(root, 'continued');
    const r = await pretrain({ out: cont, config: { ...tiny, init, steps: 3 }, excludeSplits, stopAfter: 1 });
    expect(r.state.step).toBe(1);
    const a = await PolicyModel.load(init);
    const b = await PolicyModel.load(path.join(cont, 'checkpoint', 'model'));
    expect(b.tokenizer.toJSON()).toEqual(a.tokenizer.toJSON());
    expect(b.config.imageMean).toEqual(a.config.imageMean);
    // One step of lr ~1e-3 from the init: close to it, not equal.
    const diff = a.parameters().map((p, i) => {
      const x = p.value.toArray() as Float32Array;
      const y = b.parameters()[i].value.toArray() as Float32Array;
      return x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
    });
    expect(Math.max(...diff)).toBeGreaterThan(0);
    expect(Math.max(...diff)).toBeLessThan(0.05);
    await pretrain({ out: cont, resume: true, excludeSplits });
    const dir = path.join(root, 'backbone-continued');
    await exportBackbone(cont, dir);
    const card = fs.readFileSync(path.join(dir, 'card.md'), 'utf8');
    expect(card).toContain('- The weights continue earlier runs, in this order:\n  - An earlier run (first): 8 steps of 4, lr 0.002, seed 1');
    expect(card).toContain('- Then this run.');
    expect(card).toContain('3 steps of 4 examples');
    // A model of another shape is refused, naming the setting.
    await expect(pretrain({ out: path.join(root, 'bad'), config: { ...tiny, init, model: { ...tiny.model!, dModel: 32 } }, excludeSplits })).rejects.toThrow(
      /does not match the run's model: dModel 16 \(run: 32\)/,
    );
    await expect(pretrain({ out: path.join(root, 'bad2'), config: { ...tiny, init: root }, excludeSplits })).rejects.toThrow(/is not a model folder/);
    for (const m of [a, b]) m.dispose();
  });

  test('export of a folder without a checkpoint is a clear error', async () => {
    await expect(exportBackbone(path.join(root, 'nothing'), path.join(root, 'x'))).rejects.toThrow(/has no pretraining checkpoint/);
  });
});
