/**
 * A fallible teacher (data.teacherSlip) and the paper's difficulty from the teacher's attempts (difficulty.source
 * 'teacher'): which rows slip, what their analyses say, and which rows stage 2 then calls hard.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize } from '../../lib/data/synth';
import { withCaptionFirst, withTeacherSlip } from '../../lib/train/dataset';
import { teacherVerdict } from '../../lib/train/phases/difficulty';
import { resolveTrainConfig } from '../../lib/train/presets';
import { train } from '../../lib/train/trainer';

jest.setTimeout(60_000);

test('teacherSlip rewrites the chosen share of the slippable comparison and existence analyses, seeded per row, labels untouched', () => {
  const rows = synthesize({ n: 400, seed: 4, categories: ['comparison', 'existence', 'count'] }).train.map((r, index) => ({ ...withCaptionFirst(r), index }));
  const changed = (rate: number, seed = 0) => rows.map((r) => withTeacherSlip(r, seed, rate)).filter((s, i) => s.teacher !== rows[i].teacher);
  const all = changed(1);
  // Every slipped row: a comparison whose teacher now picks the other response; the label is still the truth.
  expect(all.length).toBeGreaterThan(40);
  for (const s of all) {
    expect(['comparison', 'existence']).toContain(s.category);
    expect(s.teacher.endsWith(`<answer>${s.label === 1 ? 2 : 1}</answer>`)).toBe(true);
    expect(s.teacher).toContain(`Therefore Response ${s.label === 1 ? 2 : 1} is better.</think>`);
    // The caption is kept: only the lines from the fact on change.
    const before = rows[s.index].teacher!;
    expect(s.teacher.slice(0, s.teacher.indexOf('The image shows'))).toBe(before.slice(0, before.indexOf('The image shows')));
  }
  expect(changed(0)).toEqual([]);
  const half = changed(0.5);
  expect(half.length).toBeGreaterThan(all.length * 0.3);
  expect(half.length).toBeLessThan(all.length * 0.7);
  // Deterministic in (seed, row index); another seed slips other rows.
  expect(changed(0.5).map((r) => r.index)).toEqual(half.map((r) => r.index));
  expect(changed(0.5, 1).map((r) => r.index)).not.toEqual(half.map((r) => r.index));
});

test('teacherVerdict reads the answer that ends a teacher text', () => {
  expect(teacherVerdict('<think>a\nb</think><answer>2</answer>')).toBe(2);
  expect(teacherVerdict('<think>x</think><answer> 1 </answer>\n')).toBe(1);
  for (const bad of [undefined, '', '<think>x</think>', '<think>x</think><answer>3</answer>', '<answer>1</answer> and more'])
    expect(teacherVerdict(bad)).toBeNull();
});

test("difficulty.source 'teacher' needs a teacher that errs, and a clear error otherwise", () => {
  expect(resolveTrainConfig('demo').difficulty.source).toBe('teacher');
  expect(() => resolveTrainConfig('demo', { data: { teacherSlip: 0 } })).toThrow(/config\.difficulty\.source 'teacher'.*config\.data\.teacherSlip/);
  expect(() => resolveTrainConfig('demo', { difficulty: { source: 'judge' } })).toThrow(RangeError);
  expect(() => resolveTrainConfig('demo', { data: { teacherSlip: 1.5 } })).toThrow(/config\.data\.teacherSlip/);
  expect(resolveTrainConfig('smoke', { data: { teacherSlip: 0.5 }, difficulty: { source: 'teacher' } }).difficulty.source).toBe('teacher');
  expect(() => resolveTrainConfig('smoke', { difficulty: { source: 'teacher' } })).toThrow(RangeError);
});

/** A smoke run with a teacher that always misreads and the teacher's difficulty; `rl` adds to its stage 2. */
async function slipRun(rl: object, check: (out: string, log: string, c: ReturnType<typeof resolveTrainConfig>) => void): Promise<void> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-slip-'));
  try {
    const c = resolveTrainConfig('smoke', {
      data: { n: 96, categories: ['comparison', 'count'], captionFirst: true, teacherSlip: 1 },
      difficulty: { source: 'teacher' },
      sft: { epochs: 1 },
      rl: { steps: 1, ...rl },
      eval: { votingK: 1 },
    });
    const log: string[] = [];
    await train({ config: c, out, log: (m) => log.push(m), report: false });
    check(out, log.join('\n'), c);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

test("a run with a slipping teacher: stage 2's hard samples are the rows whose teacher verdict is not the label", () =>
  slipRun({ easyShare: 0 }, (out, log, c) => {
    const rows = fs
      .readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l, index) => withTeacherSlip({ ...withCaptionFirst(JSON.parse(l)), index }, c.seed, 1));
    const slipped = rows.filter((r) => teacherVerdict(r.teacher) !== r.label).map((r) => r.index);
    expect(slipped.length).toBeGreaterThan(3);
    const d = JSON.parse(fs.readFileSync(path.join(out, 'difficulty.json'), 'utf8'));
    expect(d.rows.length).toBe(rows.length);
    expect(d.rows.filter((r: { needed: number }) => r.needed === c.difficulty.attempts + 1).map((r: { index: number }) => r.index)).toEqual(slipped);
    expect(d.rows.every((r: { needed: number }) => r.needed === 1 || r.needed === c.difficulty.attempts + 1)).toBe(true);
    expect(log).toMatch(/difficulty: the teacher's verdicts of the \d+ training samples/);
    expect(log).toMatch(new RegExp(`from ${2 * slipped.length} hard samples`));
  }));

test('rl.easyShare adds guards to the hard pool, and rl.randomLabels says it is the control', () =>
  slipRun({ easyShare: 0.5, curriculum: 'none', randomLabels: true }, (out, log) => {
    const d = JSON.parse(fs.readFileSync(path.join(out, 'difficulty.json'), 'utf8'));
    const hard = d.rows.filter((r: { needed: number }) => r.needed > 1).length;
    // As many guards as hard samples, each in both orders.
    expect(log).toMatch(new RegExp(`from ${4 * hard} hard and guard samples \\(${hard} hard, ${hard} guards: rl.easyShare 0.5\\)`));
    expect(log).toMatch(/RANDOM-LABEL CONTROL: rewards from shuffled labels/);
  }));
