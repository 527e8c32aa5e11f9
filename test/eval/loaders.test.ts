import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadBenchmark, mmRlhfCategory, vlRewardBenchCategory, multimodalRewardBenchCategory, DataError } from '../../lib/eval';

const FIX = path.join(__dirname, '..', 'fixtures', 'benchmarks');
const IMAGES = path.join(FIX, 'images');
const file = (name: string) => path.join(FIX, name);

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-load-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

function tmp(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(ROOT, 'c-'));
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

function countBy<T>(xs: T[], f: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[f(x)] = (out[f(x)] ?? 0) + 1;
  return out;
}

describe('VL-RewardBench', () => {
  it.each([
    ['mmmu_validation_Art_1', 'reasoning'],
    ['MMMU-Pro_3', 'reasoning'],
    ['MathVerse_128', 'reasoning'],
    ['RLHF-V_0031', 'hallucination'],
    ['rlhf-v_0032', 'hallucination'],
    ['RLAIF-V-Dataset_77', 'hallucination'],
    ['Rlaif-V_1', 'hallucination'],
    ['hallucination_pair_5', 'hallucination'],
    ['Hallucination_Pair_6', 'hallucination'], // the released code's case-sensitive match put these in "general"
    ['povid_12', 'general'],
    ['wildvision_battle_3', 'general'],
  ])('%s -> %s (case-insensitive)', (id, want) => {
    expect(vlRewardBenchCategory(id)).toBe(want);
  });

  it('loads the fixture with the official split rules', () => {
    const b = loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { images: IMAGES });
    expect(b.pairs).toHaveLength(10);
    expect(countBy(b.pairs, (p) => p.category)).toEqual({ reasoning: 2, hallucination: 6, general: 2 });
    const p = b.pairs.find((x) => x.id === 'hallucination_pair_5')!;
    expect(p.question).toBe('Is there a dog?');
    expect(p.media).toEqual({ kind: 'image', path: path.join(IMAGES, 'general', 'red.png') });
    // The chosen response is wherever the label says.
    expect(p.label === 1 ? p.response1 : p.response2).toBe('No.');
    expect(p.label === 1 ? p.response2 : p.response1).toBe('Yes, a brown dog.');
  });

  it('balances the chosen position deterministically; chosen-first reproduces the released order', () => {
    const a = loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { images: IMAGES });
    const b = loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { images: IMAGES });
    expect(a.pairs.map((p) => p.label)).toEqual(b.pairs.map((p) => p.label));
    const labels = countBy(a.pairs, (p) => String(p.label));
    expect(labels['1']).toBeGreaterThan(0);
    expect(labels['2']).toBeGreaterThan(0);
    const c = loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { images: IMAGES, order: 'chosen-first' });
    expect(c.pairs.every((p) => p.label === 1)).toBe(true);
  });
});

describe('MM-RLHF-RewardBench', () => {
  it.each([
    ['mcq/q1.png', false, 'mcq'],
    ['MM-RLHF/Long/img_3.jpg', false, 'long'],
    ['data/short/x.png', false, 'short'],
    ['safety_images/9.png', false, 'safety'],
    ['video/clip.mp4', true, 'video'],
    ['clips/a.mp4', true, 'video'],
    ['longitude/a.png', false, 'other'],
  ])('%s (video: %s) -> %s', (p, isVideo, want) => {
    expect(mmRlhfCategory(p, isVideo)).toBe(want);
  });

  it('loads images and videos, keeps repeated ids apart, categories from the media path', () => {
    const b = loadBenchmark('mm-rlhf-rewardbench', file('mm-rlhf-rewardbench.jsonl'), { images: IMAGES });
    expect(b.pairs.map((p) => p.category)).toEqual(['mcq', 'long', 'long', 'short', 'safety', 'video']);
    expect(b.pairs.map((p) => p.key)).toEqual(['mcq_1', 'long_1', 'long_1#2', 'short_1', 'safety_1', 'video_1']);
    expect(b.pairs[1].id).toBe('long_1');
    expect(b.pairs[2].id).toBe('long_1');
    expect(b.pairs[5].media?.kind).toBe('video');
  });
});

describe('Multimodal RewardBench', () => {
  it('takes the label from Better and the category from Category', () => {
    const b = loadBenchmark('multimodal-rewardbench', file('multimodal-rewardbench.jsonl'), { images: IMAGES });
    expect(b.pairs.map((p) => p.label)).toEqual([1, 2, 1, 2]);
    expect(b.pairs.map((p) => p.category)).toEqual(['correctness/general', 'reasoning/math', 'safety/toxicity', 'all']);
    expect(b.pairs[3].id).toBe('4');
    expect(b.pairs[1]).toMatchObject({ question: '2+2?', response1: '5', response2: '4' });
    expect(multimodalRewardBenchCategory({ category: ' VQA ' })).toBe('vqa');
  });

  it('rejects a bad Better naming row, id and field', () => {
    const f = tmp('m.jsonl', '{"ID":"x1","Image":"a.png","Text":"q","Output1":"a","Output2":"b","Better":"Output3"}\n');
    fs.writeFileSync(path.join(path.dirname(f), 'a.png'), 'x');
    expect(() => loadBenchmark('multimodal-rewardbench', f)).toThrow(/m\.jsonl:1 \(id "x1"\): field "Better" must be "Output1" or "Output2"/);
  });
});

describe('synthetic', () => {
  it('reads the agreed row shape', () => {
    const b = loadBenchmark('synthetic', file('synthetic.jsonl'), { images: IMAGES });
    expect(b.pairs).toHaveLength(4);
    expect(b.pairs[2]).toMatchObject({ id: 'syn-2', category: 'count', label: 2, difficulty: 3, response1: 'Two.', response2: 'One.' });
    expect(b.pairs[3].difficulty).toBeUndefined();
  });

  it('defaults media paths to the data file folder and category to "synthetic"', () => {
    const f = tmp('s.jsonl', '{"id":"a","image":"p.png","question":"q","response1":"x","response2":"y","label":2}\n');
    fs.copyFileSync(path.join(IMAGES, 'general', 'red.png'), path.join(path.dirname(f), 'p.png'));
    const b = loadBenchmark('synthetic', f);
    expect(b.pairs[0]).toMatchObject({ category: 'synthetic', label: 2, media: { kind: 'image', path: path.join(path.dirname(f), 'p.png') } });
  });

  it.each([
    ['{"id":"a","image":"p.png","question":"q","response1":"x","response2":"y","label":3}', /:1 \(id "a"\): field "label" must be 1 or 2/],
    ['{"id":"a","image":"p.png","question":"q","response2":"y","label":1}', /missing field "response1"/],
    ['{"id":"a","image":"p.png","question":"q","response1":"x","response2":"y","label":1,"difficulty":"hard"}', /field "difficulty" must be a number/],
    ['{"image":"p.png","question":"q","response1":"x","response2":"y","label":1}', /:1: missing field "id"/],
    ['[1,2]', /row is not a JSON object/],
  ])('rejects %s', (line, msg) => {
    const f = tmp('s.jsonl', line + '\n');
    fs.writeFileSync(path.join(path.dirname(f), 'p.png'), 'x');
    expect(() => loadBenchmark('synthetic', f)).toThrow(msg);
  });
});

describe('file handling', () => {
  it('a missing image is an error naming the row, unless skipMissing counts it', () => {
    const lines = [
      '{"id":"ok","image":"general/red.png","question":"q","response1":"x","response2":"y","label":1}',
      '{"id":"gone","image":"general/nope.png","question":"q","response1":"x","response2":"y","label":1}',
      '{"id":"noimg","question":"q","response1":"x","response2":"y","label":1}',
    ];
    const f = tmp('s.jsonl', lines.join('\n') + '\n');
    expect(() => loadBenchmark('synthetic', f, { images: IMAGES })).toThrow(/s\.jsonl:2 \(id "gone"\): image not found: .*nope\.png.*--skip-missing/);
    const b = loadBenchmark('synthetic', f, { images: IMAGES, skipMissing: true });
    expect(b.pairs.map((p) => p.id)).toEqual(['ok']);
    expect(b.skipped).toEqual([
      { row: 2, id: 'gone', reason: expect.stringMatching(/image not found/) },
      { row: 3, id: 'noimg', reason: 'missing field "image"' },
    ]);
  });

  it('invalid JSON names the line; JSON arrays and data URLs work; parquet gets a conversion hint', () => {
    const bad = tmp('b.jsonl', '{"id":"a"}\n{oops\n');
    expect(() => loadBenchmark('synthetic', bad)).toThrow(/b\.jsonl:2: invalid JSON/);
    const png = fs.readFileSync(path.join(IMAGES, 'general', 'red.png')).toString('base64');
    const arr = tmp('a.json', JSON.stringify([{ id: 'x', image: `data:image/png;base64,${png}`, question: 'q', response1: 'a', response2: 'b', label: 1 }]));
    expect(loadBenchmark('synthetic', arr).pairs[0].media).toEqual({ kind: 'image', url: `data:image/png;base64,${png}` });
    const hf = tmp('h.jsonl', JSON.stringify({ id: 'h', prompt: 'q', chosen: 'a', rejected: 'b', image: { bytes: png, path: null } }) + '\n');
    expect(loadBenchmark('vl-rewardbench', hf).pairs[0].media?.url).toMatch(/^data:image\/png;base64,/);
    expect(() => loadBenchmark('vl-rewardbench', '/x/test.parquet')).toThrow(/parquet.*JSONL/);
    expect(() => loadBenchmark('vl-rewardbench', '/no/such.jsonl')).toThrow(DataError);
    expect(() => loadBenchmark('nope' as never, arr)).toThrow(/bench must be one of/);
  });

  it('limit keeps the first N usable pairs', () => {
    const b = loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { images: IMAGES, limit: 3 });
    expect(b.pairs.map((p) => p.row)).toEqual([1, 2, 3]);
    expect(() => loadBenchmark('vl-rewardbench', file('vl-rewardbench.jsonl'), { limit: 0 })).toThrow(/limit/);
  });
});
