import { checkResponse, parseClaim } from '../../lib/data/claims';
import { DEFAULT_BUDGETS } from '../../lib/data/generate';
import { buildCompactPrompt } from '../../lib/eval/prompt';
import { parseQuestion } from '../../lib/data/questions';
import { type Scene, sceneCaption } from '../../lib/data/scene';
import { synthesize, testSize } from '../../lib/data/synth';
import { verifySyntheticRow } from '../../lib/data/verify';
import type { SyntheticRow } from '../../lib/data/io';

// ---- an independent oracle: its own reading of the question texts, its own scene queries ----------------

const KIND_OF: Record<string, string> = { shapes: '', circles: 'circle', squares: 'square', triangles: 'triangle', crosses: 'cross', diamonds: 'diamond' };
const CELLS: Record<string, [number, number]> = {
  'top-left': [0, 0],
  'top-middle': [0, 1],
  'top-right': [0, 2],
  'middle-left': [1, 0],
  center: [1, 1],
  'middle-right': [1, 2],
  'bottom-left': [2, 0],
  'bottom-middle': [2, 1],
  'bottom-right': [2, 2],
};
function cellOf(grid: number, name: string): [number, number] {
  if (grid === 3) return CELLS[name];
  const m = /^row (\d+) col (\d+)$/.exec(name)!;
  return [Number(m[1]) - 1, Number(m[2]) - 1];
}
function count(scene: Scene, phrase: string): number {
  const words = phrase.split(' ');
  const colour = words.length === 2 ? words[0] : undefined;
  const kind = KIND_OF[words[words.length - 1]];
  return scene.objects.filter((o) => (colour === undefined || o.colour === colour) && (kind === '' || o.kind === kind)).length;
}
function oracle(scene: Scene, q: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^How many (.+) are there\?$/.exec(q))) return String(count(scene, m[1]));
  if ((m = /^What (colour is the shape|shape is) in the (.+) cell\?$/.exec(q))) {
    const [r, c] = cellOf(scene.grid, m[2]);
    const o = scene.objects.find((x) => x.row === r && x.col === c);
    return o ? (m[1].startsWith('colour') ? o.colour : o.kind) : 'none';
  }
  if ((m = /^Is there a (\w+) (\w+)\?$/.exec(q))) return scene.objects.some((o) => o.colour === m![1] && o.kind === m![2]) ? 'yes' : 'no';
  if ((m = /^Are there more (.+) than (.+)\?$/.exec(q))) return count(scene, m[1]) > count(scene, m[2]) ? 'yes' : 'no';
  if ((m = /^What is (to the left of|to the right of|above|below) the (\w+) (\w+)\?$/.exec(q))) {
    const anchors = scene.objects.filter((o) => o.colour === m![2] && o.kind === m![3]);
    expect(anchors).toHaveLength(1);
    const a = anchors[0];
    const dir = m[1];
    const seen = scene.objects.filter((o) =>
      dir === 'to the left of'
        ? o.row === a.row && o.col < a.col
        : dir === 'to the right of'
          ? o.row === a.row && o.col > a.col
          : dir === 'above'
            ? o.col === a.col && o.row < a.row
            : o.col === a.col && o.row > a.row,
    );
    expect(seen).toHaveLength(1);
    return `${seen[0].colour} ${seen[0].kind}`;
  }
  throw new Error(`oracle cannot read ${q}`);
}
/** The answer a response's first sentence gives, read with the oracle's own patterns. */
function statedAnswer(text: string): string {
  const first = text.split(/(?<=\.) /)[0];
  let m: RegExpExecArray | null;
  if ((m = /^There (?:is|are) (no|\d+) /.exec(first))) return m[1] === 'no' ? '0' : m[1];
  if (/cell is empty\.$/.test(first)) return 'none';
  if ((m = /^The shape in the .+ cell is (?:an? )?(\w+)\.$/.exec(first))) return m[1];
  if ((m = /^(Yes|No),/.exec(first))) return m[1].toLowerCase();
  if ((m = /^There is an? (\w+ \w+) (?:to the|above|below)/.exec(first))) return m[1];
  throw new Error(`cannot read the answer of ${first}`);
}

const good = (r: SyntheticRow) => (r.label === 1 ? r.response1 : r.response2);
const bad = (r: SyntheticRow) => (r.label === 1 ? r.response2 : r.response1);

const datasets = [1, 2, 3].map((seed) => synthesize({ n: 240, seed }));
const rowsOf = (d: (typeof datasets)[number]) => [...d.train, ...d.test];

describe('synthesize', () => {
  test('every label recomputed from the scene: the faithful response is right, the other wrong (seeds 1-3, levels 1-4)', () => {
    for (const d of datasets) {
      for (const r of rowsOf(d)) {
        const truth = oracle(r.scene, r.question);
        expect(statedAnswer(good(r))).toBe(truth);
        const q = parseQuestion(r.scene.grid, r.question);
        const g = checkResponse(r.scene, q, good(r));
        const b = checkResponse(r.scene, q, bad(r));
        expect(g.truth).toBe(truth);
        expect(g.correct).toBe(true);
        expect(g.claims.every((c) => c.holds)).toBe(true);
        expect(b.correct).toBe(false);
        // Wrong answer, or the right answer with at least one false detail.
        if (statedAnswer(bad(r)) === truth) expect(b.claims.some((c) => !c.holds)).toBe(true);
        expect(verifySyntheticRow(r)).toEqual({ ok: true, truth });
      }
    }
  });

  test('answer positions are balanced exactly 1:1 in each split, and within 1 in each (level, category) group', () => {
    for (const d of datasets) {
      for (const split of [d.train, d.test]) {
        expect(split.length % 2).toBe(0);
        expect(split.filter((r) => r.label === 1).length).toBe(split.length / 2);
        const groups = new Map<string, number>();
        for (const r of split) groups.set(`${r.difficulty}/${r.category}`, (groups.get(`${r.difficulty}/${r.category}`) ?? 0) + (r.label === 1 ? 1 : -1));
        for (const v of groups.values()) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      }
    }
    const odd = synthesize({ n: 21, seed: 4, testFraction: 0.3 });
    for (const split of [odd.train, odd.test]) expect(Math.abs(split.filter((r) => r.label === 1).length * 2 - split.length)).toBeLessThanOrEqual(1);
  });

  test('rows have exactly the documented keys, in order; ids and (scene, question) pairs are unique', () => {
    for (const d of datasets) {
      const ids = new Set<string>();
      const pairs = new Set<string>();
      for (const r of rowsOf(d)) {
        expect(Object.keys(r)).toEqual(['id', 'image', 'question', 'response1', 'response2', 'label', 'difficulty', 'category', 'teacher', 'scene']);
        expect(r.image).toBe(`images/${r.id}.png`);
        ids.add(r.id);
        pairs.add(r.question + JSON.stringify(r.scene.objects.map((o) => [o.row, o.col, o.colour, o.kind])));
      }
      expect(ids.size).toBe(240);
      expect(pairs.size).toBe(240);
    }
  });

  test('splits, levels and categories are spread evenly in each split (within one sample)', () => {
    const d = datasets[0];
    expect(d.train.length).toBe(192);
    expect(d.test.length).toBe(48);
    const spread = (rows: SyntheticRow[], key: (r: SyntheticRow) => string, groups: number) => {
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
      expect(counts.size).toBe(groups);
      expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(1);
    };
    for (const split of [d.train, d.test, synthesize({ n: 16, seed: 3, testFraction: 0 }).train]) {
      spread(split, (r) => String(r.difficulty), 4);
      spread(split, (r) => r.category, 5);
      if (split.length >= 20) spread(split, (r) => `${r.difficulty}/${r.category}`, 20);
    }
    // Levels 1-2 and 4 categories share a factor: still every pair.
    spread(
      synthesize({ n: 16, seed: 3, levels: [1, 2], categories: ['count', 'attribute', 'existence', 'relation'], testFraction: 0 }).train,
      (r) => `${r.difficulty}/${r.category}`,
      8,
    );
    expect(testSize(10, 0.25)).toBe(2); // 2.5 rounds to 3, moved to 2 to keep both splits even
    expect(testSize(100, 0.2)).toBe(20);
  });

  test('teacher output: the format, true evidence lines about the asked cells, the verdict equal to the label, a last line naming it', () => {
    for (const r of rowsOf(datasets[1])) {
      const m = /^<think>([\s\S]+)<\/think><answer>([12])<\/answer>$/.exec(r.teacher);
      expect(m).not.toBeNull();
      expect(Number(m![2])).toBe(r.label);
      const all = m![1].split('\n');
      const f = all.findIndex((l) => l.startsWith('The image shows '));
      expect(f).toBeGreaterThanOrEqual(0);
      // Evidence: lines of the scene's own caption, about the cells the question needs.
      const caption = new Map(
        sceneCaption(r.scene)
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(':')), l] as const),
      );
      const evidence = all.slice(0, f);
      for (const e of evidence) expect(caption.get(e.slice(0, e.indexOf(':')))).toBe(e);
      const truth = oracle(r.scene, r.question);
      if (r.category === 'attribute') expect(evidence).toEqual([caption.get(/in the (.+) cell\?$/.exec(r.question)![1])]);
      if (r.category === 'count') expect(evidence.length).toBe(Number(truth));
      if (r.category === 'existence') expect(evidence.length > 0).toBe(truth === 'yes');
      if (r.category === 'relation') expect(evidence.length).toBe(2);
      if (r.category === 'relation') expect(evidence[1]).toContain(truth);
      const lines = all.slice(f);
      expect(lines[0]).toMatch(/^The image shows /);
      expect(lines[1]).toMatch(/^Response 1 /);
      expect(lines[2]).toMatch(/^Response 2 /);
      expect(lines[lines.length - 1]).toBe(`Therefore Response ${r.label} is better.`);
      expect(lines[r.label]).toBe(`Response ${r.label} is correct.`);
      expect(lines[3 - r.label]).toMatch(/wrong/);
    }
  });

  test('texts stay within the byte budgets (level 1: prompt <= 200, reasoning after the evidence lines <= 160)', () => {
    expect(DEFAULT_BUDGETS.prompt[0]).toBeLessThanOrEqual(200);
    for (const d of datasets)
      for (const r of rowsOf(d)) {
        const think = /^<think>([\s\S]*)<\/think>/.exec(r.teacher)![1];
        const analysis = think.slice(think.indexOf('The image shows '));
        expect(Buffer.byteLength(buildCompactPrompt(r.question, r.response1, r.response2))).toBeLessThanOrEqual(DEFAULT_BUDGETS.prompt[r.difficulty - 1]);
        expect(Buffer.byteLength(analysis)).toBeLessThanOrEqual(DEFAULT_BUDGETS.analysis[r.difficulty - 1]);
      }
    const tight = synthesize({ n: 20, seed: 9, levels: [1], categories: ['count'], budgets: { prompt: [105, 999, 999, 999], analysis: [120, 999, 999, 999] } });
    for (const r of [...tight.train, ...tight.test])
      expect(Buffer.byteLength(buildCompactPrompt(r.question, r.response1, r.response2))).toBeLessThanOrEqual(105);
    expect(() => synthesize({ n: 4, seed: 1, levels: [1], budgets: { prompt: [20, 999, 999, 999] }, maxAttempts: 20 })).toThrow(/budgets/);
  });

  test('higher levels: more objects, longer responses, and errors in details as well as answers', () => {
    const all = datasets.flatMap(rowsOf);
    const stats = [1, 2, 3, 4].map((level) => {
      const rows = all.filter((r) => r.difficulty === level);
      const mean = (f: (r: SyntheticRow) => number) => rows.reduce((s, r) => s + f(r), 0) / rows.length;
      return {
        objects: mean((r) => r.scene.objects.length),
        length: mean((r) => r.response1.length + r.response2.length),
        detail: rows.filter((r) => statedAnswer(bad(r)) === oracle(r.scene, r.question)).length / rows.length,
      };
    });
    for (let i = 1; i < 4; i++) {
      expect(stats[i].objects).toBeGreaterThan(stats[i - 1].objects);
      expect(stats[i].length).toBeGreaterThan(stats[i - 1].length);
    }
    expect(stats[0].detail).toBe(0);
    expect(stats[1].detail).toBe(0);
    expect(stats[2].detail).toBeGreaterThan(0.1);
    expect(stats[3].detail).toBeGreaterThan(stats[2].detail);
    expect(stats[3].detail).toBeLessThan(0.8);
  });

  test('level 3-4 count errors are off by one', () => {
    for (const r of datasets.flatMap(rowsOf).filter((x) => x.difficulty >= 3 && x.category === 'count')) {
      expect(Math.abs(Number(statedAnswer(good(r))) - Number(statedAnswer(bad(r))))).toBeLessThanOrEqual(1);
    }
  });

  test('the response texts alone do not give the label away', () => {
    // The real scene is chosen by a fair coin between the two scenes the responses describe, so
    // text-only cues sit at chance. Check two obvious ones over a larger set.
    const rows = rowsOf(synthesize({ n: 1200, seed: 21, levels: [1, 2], categories: ['count', 'existence', 'comparison'] }));
    const counts = rows.filter((r) => r.category === 'count');
    const larger = counts.filter((r) => Number(statedAnswer(good(r))) > Number(statedAnswer(bad(r)))).length / counts.length;
    const yesNo = rows.filter((r) => r.category !== 'count' && statedAnswer(good(r)) !== statedAnswer(bad(r)));
    const yes = yesNo.filter((r) => statedAnswer(good(r)) === 'yes').length / yesNo.length;
    expect(counts.length).toBeGreaterThan(300);
    expect(Math.abs(larger - 0.5)).toBeLessThan(0.08);
    expect(Math.abs(yes - 0.5)).toBeLessThan(0.08);
  });

  test('deterministic: same seed same rows, another seed other rows', () => {
    expect(JSON.stringify(synthesize({ n: 240, seed: 1 }))).toBe(JSON.stringify(datasets[0]));
    expect(JSON.stringify(datasets[1].train.slice(0, 5))).not.toBe(JSON.stringify(datasets[0].train.slice(0, 5)));
  });

  test('other grids, kinds and colours work and verify', () => {
    const d = synthesize({
      n: 60,
      seed: 5,
      grid: 4,
      kinds: ['circle', 'square', 'triangle', 'cross', 'diamond'],
      colours: ['red', 'green', 'blue', 'yellow', 'purple', 'cyan', 'white'],
    });
    for (const r of rowsOf(d)) {
      expect(r.scene.grid).toBe(4);
      expect(verifySyntheticRow(r).ok).toBe(true);
      expect(statedAnswer(good(r))).toBe(oracle(r.scene, r.question));
    }
    expect(rowsOf(d).some((r) => /row \d col \d/.test(r.question + r.response1 + r.response2))).toBe(true);
  });

  test('bad options name the field', () => {
    expect(() => synthesize({ n: 0, seed: 1 })).toThrow(/^n must be/);
    expect(() => synthesize({ n: 10, seed: -1 })).toThrow(/^seed must be/);
    expect(() => synthesize({ n: 10, seed: 1, levels: [5] })).toThrow(/levels\[0\]/);
    expect(() => synthesize({ n: 10, seed: 1, testFraction: 1 })).toThrow(/testFraction/);
    expect(() => synthesize({ n: 10, seed: 1, kinds: ['circle', 'star' as never] })).toThrow(/kinds/);
    expect(() => synthesize({ n: 10, seed: 1, colours: ['red'] })).toThrow(/colours needs at least 2/);
    expect(() => synthesize({ n: 10, seed: 1, budgets: { analysis: [1, 2] } })).toThrow(/budgets\.analysis/);
  });

  test('verifySyntheticRow catches a flipped label, a wrong teacher and a broken scene', () => {
    const r = datasets[0].train[0];
    expect(verifySyntheticRow({ ...r, label: 3 - r.label })).toMatchObject({ ok: false, reason: expect.stringMatching(/label is/) });
    expect(verifySyntheticRow({ ...r, teacher: r.teacher.replace('Therefore', 'So') })).toMatchObject({ ok: false, reason: expect.stringMatching(/teacher/) });
    expect(verifySyntheticRow({ ...r, scene: { grid: 3, objects: [{ kind: 'blob' }] } })).toMatchObject({ ok: false, reason: expect.stringMatching(/kind/) });
    expect(verifySyntheticRow({ ...r, response1: r.response2 })).toMatchObject({ ok: false });
    expect(() => parseClaim(3, 'Nonsense.')).toThrow();
  });
});

test('no response repeats a sentence', () => {
  for (const r of datasets.flatMap(rowsOf)) {
    for (const text of [r.response1, r.response2]) {
      const sentences = text.split(/(?<=\.) /);
      expect(new Set(sentences).size).toBe(sentences.length);
    }
  }
});
