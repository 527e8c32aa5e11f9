/**
 * Training from a backbone (model.init 'backbone'): the shipped one is sha256-checked; another (model.backboneDir)
 * gives the run its weights and tokenizer; model settings that do not describe it are a clear error; and
 * caption-first teacher analyses (data.captionFirst).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sceneCaption } from '../../lib/data/scene';
import { PolicyModel, trainBpe } from '../../lib/model';
import { BACKBONE_SHA256, backboneDir, sha256File, verifyBackbone } from '../../lib/model/backbone';
import { withCaptionFirst } from '../../lib/train/dataset';
import { resolveTrainConfig } from '../../lib/train/presets';
import { train } from '../../lib/train/trainer';

jest.setTimeout(120_000);

let root: string;
beforeAll(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-backbone-'))));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('the shipped backbone', () => {
  test('its weights have the recorded sha256', () => {
    expect(BACKBONE_SHA256).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256File(path.join(backboneDir(), 'model.safetensors'))).toBe(BACKBONE_SHA256);
    expect(() => verifyBackbone()).not.toThrow();
    for (const f of ['config.json', 'tokenizer.json', 'card.md', 'skills.json']) expect(fs.existsSync(path.join(backboneDir(), f))).toBe(true);
  });

  test('a damaged or missing file is an error naming it', () => {
    const dir = path.join(root, 'damaged');
    fs.mkdirSync(dir);
    expect(() => verifyBackbone(dir, BACKBONE_SHA256)).toThrow(/backbone is missing: .*model\.safetensors does not exist/);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), 'not the weights');
    expect(() => verifyBackbone(dir, BACKBONE_SHA256)).toThrow(/damaged or not the shipped one: sha256 [0-9a-f]{64}, expected/);
  });
});

describe('a run from a backbone', () => {
  const smokeShape = { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, imageSize: 48, patchSize: 16, maxSeqLen: 512 };

  async function makeBackbone(dir: string, shape: object): Promise<string[]> {
    const tokenizer = trainBpe(['top-left: red circle\nThe image shows no blue cross.', 'Response 1 is correct.'], { merges: 20 });
    const m = PolicyModel.create(shape as typeof smokeShape, { seed: 5, tokenizer });
    await m.save(dir);
    const names = m.tokenizer.merges.map((x) => JSON.stringify(x));
    m.dispose();
    return names;
  }

  test('starts from its weights and tokenizer', async () => {
    const bb = path.join(root, 'bb-smoke');
    const merges = await makeBackbone(bb, smokeShape);
    const out = path.join(root, 'run');
    const c = resolveTrainConfig('smoke', {
      model: { init: 'backbone', backboneDir: bb },
      rl: { steps: 0 },
      sft: { epochs: 0 },
      vision: { steps: 0 },
      eval: { votingK: 1 },
    });
    const log: string[] = [];
    await train({ config: c, out, log: (m) => log.push(m), report: false });
    expect(log.join('\n')).toMatch(/model: the backbone, [\d,]+ parameters \(.*bb-smoke\)/);
    // No stage-1 steps: the stage-1 model is the backbone itself.
    const m = await PolicyModel.load(path.join(out, 'stage1-model'));
    const b = await PolicyModel.load(bb);
    expect(m.tokenizer.merges.map((x) => JSON.stringify(x))).toEqual(merges);
    const pm = m.parameters();
    b.parameters().forEach((p, i) => expect(Array.from(pm[i].value.toArray())).toEqual(Array.from(p.value.toArray())));
    m.dispose();
    b.dispose();
  });

  test('model settings that do not describe the backbone are an error naming them', async () => {
    const bb = path.join(root, 'bb-other');
    await makeBackbone(bb, { ...smokeShape, dModel: 48, nHeads: 4, maxSeqLen: 256 });
    const c = resolveTrainConfig('smoke', { model: { init: 'backbone', backboneDir: bb } });
    await expect(train({ config: c, out: path.join(root, 'bad'), report: false })).rejects.toThrow(
      /model settings differ from the backbone's: dModel 32 \(backbone: 48\), nHeads 2 \(backbone: 4\), maxSeqLen 512 \(backbone: 256 at most\); .*--from-scratch/,
    );
  });

  test('--from-scratch is model.init scratch', () => {
    expect(resolveTrainConfig('smoke', { model: { init: 'scratch' } }).model.init).toBe('scratch');
    expect(() => resolveTrainConfig('smoke', { model: { init: 'pretrained' } })).toThrow(/config\.model\.init/);
  });
});

test('captionFirst puts the scene caption first in the teacher analysis, the matches of the question marked', () => {
  const scene = {
    grid: 3,
    objects: [
      { kind: 'circle' as const, colour: 'red' as const, row: 0, col: 0, size: 0.8 },
      { kind: 'square' as const, colour: 'blue' as const, row: 1, col: 1, size: 0.8 },
      { kind: 'square' as const, colour: 'red' as const, row: 2, col: 2, size: 0.8 },
    ],
  };
  const row = {
    id: 'a',
    image: 'x.png',
    question: 'How many red shapes are there?',
    response1: 'a',
    response2: 'b',
    label: 1 as const,
    scene,
    teacher: '<think>top-left: red circle\nbottom-right: red square\nThe image shows 2 red shapes.</think><answer>1</answer>',
  };
  const out = withCaptionFirst(row);
  const caption = sceneCaption(scene)
    .replace('top-left: red circle', 'top-left: red circle #1')
    .replace('bottom-right: red square', 'bottom-right: red square #2');
  // The marks replace the evidence lines of a count.
  expect(out.teacher).toBe(`<think>${caption}\nThe image shows 2 red shapes.</think><answer>1</answer>`);
  // A cell the question names keeps its evidence line (recalled by name), and the caption has no marks.
  const attr = {
    ...row,
    question: 'What colour is the shape in the center cell?',
    teacher: '<think>center: blue square\nThe image shows x.</think><answer>1</answer>',
  };
  expect(withCaptionFirst(attr).teacher).toBe(`<think>${sceneCaption(scene)}\ncenter: blue square\nThe image shows x.</think><answer>1</answer>`);
  expect(withCaptionFirst({ ...row, scene: undefined })).toEqual({ ...row, scene: undefined });
  expect(row.teacher.startsWith('<think>top-left')).toBe(true); // the input row is not changed
  expect(() => withCaptionFirst({ ...row, question: 'Q?' })).toThrow(/row a: .*question/);
});
