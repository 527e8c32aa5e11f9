import * as fs from 'fs';
import * as path from 'path';
import { checkResponse, parseClaim, splitSentences } from '../../lib/data/claims';
import { DEFAULT_BUDGETS, captionFirstAnalysis, generateSample, markedCaption, slippedReasoning } from '../../lib/data/generate';
import { buildCompactPrompt } from '../../lib/eval/prompt';
import { countPhrase, noun, parseQuestion } from '../../lib/data/questions';
import { DEFAULT_COLOURS, DEFAULT_KINDS, type Scene, cellName, countMatching, sceneCaption } from '../../lib/data/scene';
import { synthesize, testSize } from '../../lib/data/synth';
import { verifySyntheticRow } from '../../lib/data/verify';
import type { SyntheticRow } from '../../lib/data/io';

// ---- an independent oracle: its own reading of the question texts, its own scene queries ----------------

const KIND_OF: Record<string, string> = { shapes: '', circles: 'circle', squares: 'square', triangles: 'triangle', crosses: 'cross', diamonds: 'diamond' };
const SINGULAR_KIND: Record<string, string> = { shape: '', circle: 'circle', square: 'square', triangle: 'triangle', cross: 'cross', diamond: 'diamond' };
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
  // Level 0: "the shape" is the scene's only shape.
  if ((m = /^What (colour is the shape|shape is in the image)\?$/.exec(q))) {
    expect(scene.objects).toHaveLength(1);
    return m[1].startsWith('colour') ? scene.objects[0].colour : scene.objects[0].kind;
  }
  // "Is there a red circle?", and at level 0 "Is there a red shape?" / "Is there a circle?".
  if ((m = /^Is there a (?:(\w+) )?(\w+)\?$/.exec(q))) {
    const kind = SINGULAR_KIND[m[2]];
    return scene.objects.some((o) => (m![1] === undefined || o.colour === m![1]) && (kind === '' || o.kind === kind)) ? 'yes' : 'no';
  }
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
  if ((m = /^The shape (?:in the .+ cell )?is (?:an? )?(\w+)\.$/.exec(first))) return m[1];
  if ((m = /^(Yes|No),/.exec(first))) return m[1].toLowerCase();
  if ((m = /^There is an? (\w+ \w+) (?:to the|above|below)/.exec(first))) return m[1];
  throw new Error(`cannot read the answer of ${first}`);
}

const good = (r: SyntheticRow) => (r.label === 1 ? r.response1 : r.response2);
const bad = (r: SyntheticRow) => (r.label === 1 ? r.response2 : r.response1);

const datasets = [1, 2, 3].map((seed) => synthesize({ n: 240, seed }));
const rowsOf = (d: (typeof datasets)[number]) => [...d.train, ...d.test];

/** The last "#" mark of a marked caption (0 without one). */
const marks0 = (lines: string[]) => Math.max(0, ...lines.flatMap((l) => [...l.matchAll(/#(\d+)/g)].map((m) => Number(m[1]))));

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
      // The answer in short form, then each response's answer copied in that form and compared with it.
      const answer = /^The answer is (.+)\.$/.exec(lines[1])![1];
      expect(lines[1 + r.label]).toBe(`Response ${r.label} says ${answer}: right.`);
      const flawed = 3 - r.label;
      const sameAnswer = statedAnswer(bad(r)) === truth;
      if (sameAnswer) {
        // Both answers right: Response 1's details, each with what the image has there, up to the first wrong one.
        expect(lines[1 + flawed]).toBe(`Response ${flawed} says ${answer}: right.`);
        const details = lines.slice(4, -1).map((l) => /^Response 1 also says (.+); the image has (.+): (right|wrong)\.$/.exec(l)!);
        const sentences = r.response1.split(/(?<=\.) /).slice(1);
        expect(details.length).toBeGreaterThan(0);
        details.forEach(([, said, truth, verdict], k) => {
          const cell = /^(.+): (.+)$/.exec(said);
          expect(verdict).toBe(said === truth ? 'right' : 'wrong');
          expect(verdict).toBe(k === details.length - 1 && r.label === 2 ? 'wrong' : 'right');
          if (cell) {
            // A cell detail: the image side is the cell's caption line.
            expect(caption.get(cell[1])).toBe(truth);
            expect(sentences[k]).toBe(cell[2] === 'empty' ? `The ${cell[1]} cell is empty.` : `The ${cell[1]} cell has a ${cell[2]}.`);
          } else expect(sentences[k]).toMatch(new RegExp(`^There (is|are) ${said}\\.$`));
        });
        // Response 1 right in every detail: all of them were checked.
        if (r.label === 1) expect(details).toHaveLength(sentences.length);
      } else {
        expect(lines[1 + flawed]).toMatch(new RegExp(`^Response ${flawed} says (.+): wrong\\.$`));
        expect(lines[1 + flawed]).not.toBe(`Response ${flawed} says ${answer}: wrong.`);
        expect(lines).toHaveLength(5);
      }
      expect(lines[lines.length - 1]).toBe(`Therefore Response ${r.label} is better.`);
    }
  });

  test('caption-first analyses: the caption with running counts of the matches (by name for a comparison), whose last mark is the count the fact states', () => {
    let marked = 0;
    for (const d of datasets)
      for (const r of rowsOf(d)) {
        const q = parseQuestion(r.scene.grid, r.question);
        const lines = markedCaption(r.scene, q);
        // The caption, plus marks.
        expect(lines.map((l) => l.replace(/( #\d+| \([a-z ]+ \d+\))+$/, ''))).toEqual(sceneCaption(r.scene).split('\n'));
        const filters = q.type === 'count' ? [q.filter] : q.type === 'existence' ? [q.thing] : q.type === 'comparison' ? [q.a, q.b] : [];
        filters.forEach((f) => {
          // "#n" for the one filter of count and existence, "(squares n)" for each of a comparison's two.
          const mark = q.type === 'comparison' ? `\\(${noun(f, true)} (\\d+)\\)` : '#(\\d+)';
          const marks = lines.flatMap((l) => [...l.matchAll(new RegExp(` ${mark}`, 'g'))].map((m) => Number(m[1])));
          // 1, 2, ..., n in reading order, n the number of matches.
          expect(marks).toEqual(Array.from({ length: countMatching(r.scene, f) }, (_, k) => k + 1));
          marked += marks.length;
        });
        if (filters.length === 0) expect(lines.join('\n')).toBe(sceneCaption(r.scene));
        const think = /^<think>([\s\S]*)<\/think>/.exec(r.teacher)![1];
        const analysis = captionFirstAnalysis(r.scene, q, think).split('\n');
        expect(analysis.slice(0, lines.length)).toEqual(lines);
        const rest = think.split('\n');
        // The marks replace the evidence lines of count, existence and comparison; attribute and relation keep theirs.
        const from = filters.length > 0 ? rest.findIndex((l) => l.startsWith('The image shows ')) : 0;
        expect(analysis.slice(lines.length)).toEqual(rest.slice(from));
        if (q.type === 'count')
          expect(analysis[lines.length]).toBe(
            `The image shows ${marks0(lines) === 0 ? 'no' : marks0(lines)} ${think.split('The image shows ')[1].split(' ').slice(1).join(' ').split('\n')[0]}`,
          );
      }
    expect(marked).toBeGreaterThan(200);
  });

  test("a teacher's slips: a comparison's counts under each other's names, an existing shape overlooked, and the flawed response picked from there", () => {
    const slipped = { comparison: 0, existence: 0 };
    let kept = 0;
    for (const d of datasets)
      for (const r of rowsOf(d)) {
        const q = parseQuestion(r.scene.grid, r.question);
        const slip = slippedReasoning(r.scene, q, [r.response1, r.response2]);
        const said = [r.response1, r.response2].map((t) => (t.startsWith('Yes') ? 'yes' : t.startsWith('No') ? 'no' : null));
        let fact: string;
        let truthFact: string;
        let misread: string;
        if (q.type === 'comparison') {
          const [na, nb] = [countMatching(r.scene, q.a), countMatching(r.scene, q.b)];
          [fact, truthFact, misread] = [
            `${countPhrase(q.a, nb)} and ${countPhrase(q.b, na)}`,
            `${countPhrase(q.a, na)} and ${countPhrase(q.b, nb)}`,
            nb > na ? 'yes' : 'no',
          ];
          if (na === nb) [fact, misread] = [truthFact, 'none'];
        } else if (q.type === 'existence') {
          const n = countMatching(r.scene, q.thing);
          [fact, truthFact, misread] = [`no ${q.thing.colour} ${q.thing.kind}`, `a ${q.thing.colour} ${q.thing.kind} in the `, n > 0 ? 'no' : 'none'];
        } else {
          expect(slip).toBeNull();
          continue;
        }
        if (misread === 'none' || said[0] === said[1]) {
          // Nothing to misread, or a misreading that changes no verdict.
          expect(slip).toBeNull();
          kept++;
          continue;
        }
        slipped[q.type]++;
        expect(slip!.verdict).toBe(r.label === 1 ? 2 : 1);
        expect(slip!.reasoning.split('\n')).toEqual([
          `The image shows ${fact}.`,
          `The answer is ${misread}.`,
          `Response 1 says ${said[0]}: ${said[0] === misread ? 'right' : 'wrong'}.`,
          `Response 2 says ${said[1]}: ${said[1] === misread ? 'right' : 'wrong'}.`,
          `Therefore Response ${slip!.verdict} is better.`,
        ]);
        // The truthful analysis states what the image has.
        expect(r.teacher).toContain(`The image shows ${truthFact}`);
      }
    expect(slipped.comparison).toBeGreaterThan(20);
    expect(slipped.existence).toBeGreaterThan(20);
    expect(kept).toBeGreaterThan(20);
  });

  test('texts stay within the byte budgets (level 1: prompt <= 200, reasoning after the evidence lines <= 240)', () => {
    expect(DEFAULT_BUDGETS.prompt[1]).toBeLessThanOrEqual(200);
    for (const d of datasets)
      for (const r of rowsOf(d)) {
        const think = /^<think>([\s\S]*)<\/think>/.exec(r.teacher)![1];
        const analysis = think.slice(think.indexOf('The image shows '));
        expect(Buffer.byteLength(buildCompactPrompt(r.question, r.response1, r.response2))).toBeLessThanOrEqual(DEFAULT_BUDGETS.prompt[r.difficulty]);
        expect(Buffer.byteLength(analysis)).toBeLessThanOrEqual(DEFAULT_BUDGETS.analysis[r.difficulty]);
      }
    const tight = synthesize({
      n: 20,
      seed: 9,
      levels: [1],
      categories: ['count'],
      budgets: { prompt: [999, 105, 999, 999, 999], analysis: [999, 150, 999, 999, 999] },
    });
    for (const r of [...tight.train, ...tight.test])
      expect(Buffer.byteLength(buildCompactPrompt(r.question, r.response1, r.response2))).toBeLessThanOrEqual(105);
    expect(() => synthesize({ n: 4, seed: 1, levels: [1], budgets: { prompt: [999, 20, 999, 999, 999] }, maxAttempts: 20 })).toThrow(/budgets/);
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
    expect(() => synthesize({ n: 10, seed: 1, levels: [-1] })).toThrow(/levels\[0\] must be an integer in \[0, 4\]/);
    expect(() => synthesize({ n: 10, seed: 1, levels: [0, 1], categories: ['count', 'relation'] })).toThrow(
      /^categories: level 0 asks only attribute, existence questions/,
    );
    expect(() => synthesize({ n: 10, seed: 1, testFraction: 1 })).toThrow(/testFraction/);
    expect(() => synthesize({ n: 10, seed: 1, kinds: ['circle', 'star' as never] })).toThrow(/kinds/);
    expect(() => synthesize({ n: 10, seed: 1, colours: ['red'] })).toThrow(/colours needs at least 2/);
    expect(() => synthesize({ n: 10, seed: 1, budgets: { analysis: [1, 2] } })).toThrow(/budgets\.analysis must list 5 byte budgets \(levels 0-4\)/);
    expect(() => synthesize({ n: 10, seed: 1, budgets: { prompt: [200, 280, 320, 380] } })).toThrow(/budgets\.prompt must list 5/);
  });

  test('verifySyntheticRow catches a flipped label, a wrong teacher and a broken scene', () => {
    const r = datasets[0].train[0];
    expect(verifySyntheticRow({ ...r, label: 3 - r.label })).toMatchObject({ ok: false, reason: expect.stringMatching(/label is/) });
    expect(verifySyntheticRow({ ...r, teacher: r.teacher.replace('Therefore', 'So') })).toMatchObject({ ok: false, reason: expect.stringMatching(/teacher/) });
    expect(verifySyntheticRow({ ...r, scene: { grid: 3, objects: [{ kind: 'blob' }] } })).toMatchObject({ ok: false, reason: expect.stringMatching(/kind/) });
    const other = r.category === 'count' ? 'existence' : 'count';
    expect(verifySyntheticRow({ ...r, category: other })).toMatchObject({ ok: false, reason: expect.stringMatching(/category is/) });
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

// ---- level 0: one shape, questions about the whole image ----------------------------------------------------

describe('level 0', () => {
  const level0 = [11, 12, 13, 14, 15].map((seed) => synthesize({ n: 400, seed, levels: [0] }));
  const rows0 = level0.flatMap(rowsOf);
  const objectOf = (r: SyntheticRow) => r.scene.objects[0];
  const FORMS = /^(?:What colour is the shape|What shape is in the image|Is there an? (?:(\w+) )?(\w+))\?$/;

  test('one shape anywhere; the four question forms, no cell named; every label re-derived (seeds 11-15)', () => {
    expect(rows0).toHaveLength(2000);
    const cells = new Set<string>();
    for (const r of rows0) {
      expect(r.difficulty).toBe(0);
      expect(r.scene.objects).toHaveLength(1);
      cells.add(`${objectOf(r).row},${objectOf(r).col}`);
      const form = FORMS.exec(r.question);
      expect(form).not.toBeNull();
      expect(r.category).toBe(r.question.startsWith('Is there') ? 'existence' : 'attribute');
      // Existence names a colour or a kind, not both.
      if (form![2] !== undefined) expect((form![1] === undefined) !== (form![2] === 'shape')).toBe(true);
      for (const text of [r.question, r.response1, r.response2]) expect(text).not.toMatch(/cell|top|bottom|left|right|center|middle|row \d/);
      const truth = oracle(r.scene, r.question);
      expect(statedAnswer(good(r))).toBe(truth);
      // No details at level 0: the flawed response is wrong in its answer.
      expect(statedAnswer(bad(r))).not.toBe(truth);
      const q = parseQuestion(r.scene.grid, r.question);
      expect(checkResponse(r.scene, q, good(r)).correct).toBe(true);
      expect(checkResponse(r.scene, q, bad(r)).correct).toBe(false);
      expect(verifySyntheticRow(r)).toEqual({ ok: true, truth });
    }
    expect(cells.size).toBe(9);
  });

  test('teacher: one evidence line (the shape in caption form), what the image shows, the answer, one line per response, the verdict', () => {
    for (const r of rows0) {
      const m = /^<think>([\s\S]+)<\/think><answer>([12])<\/answer>$/.exec(r.teacher)!;
      expect(Number(m[2])).toBe(r.label);
      const o = objectOf(r);
      const line = sceneCaption(r.scene).split('\n')[o.row * 3 + o.col];
      expect(line).toBe(`${cellName(3, o.row, o.col)}: ${o.colour} ${o.kind}`);
      const truth = oracle(r.scene, r.question);
      const asked = FORMS.exec(r.question)!;
      const shows = truth === 'no' ? `no ${asked[1] === undefined ? '' : `${asked[1]} `}${asked[2]}` : `a ${o.colour} ${o.kind}`;
      const lines = m[1].split('\n');
      const answer = /^The answer is (.+)\.$/.exec(lines[2])![1];
      expect(answer).toBe(truth === 'yes' || truth === 'no' || truth === o.colour ? truth : `a ${truth}`);
      expect(lines).toEqual([
        line,
        `The image shows ${shows}.`,
        `The answer is ${answer}.`,
        r.label === 1 ? `Response 1 says ${answer}: right.` : expect.stringMatching(/^Response 1 says .+: wrong\.$/),
        r.label === 2 ? `Response 2 says ${answer}: right.` : expect.stringMatching(/^Response 2 says .+: wrong\.$/),
        `Therefore Response ${r.label} is better.`,
      ]);
      expect(lines[2 + (3 - r.label)]).not.toContain(`says ${answer}:`);
      const think = m[1];
      expect(Buffer.byteLength(think.slice(think.indexOf('The image shows ')))).toBeLessThanOrEqual(DEFAULT_BUDGETS.analysis[0]);
      expect(Buffer.byteLength(buildCompactPrompt(r.question, r.response1, r.response2))).toBeLessThanOrEqual(DEFAULT_BUDGETS.prompt[0]);
    }
  });

  test('the flawed response is the faithful one about the shape recoloured or reshaped, in the same words', () => {
    for (const r of rows0) {
      const q = parseQuestion(r.scene.grid, r.question);
      const o = objectOf(r);
      const edits: Scene[] = [
        ...DEFAULT_COLOURS.filter((c) => c !== o.colour).map((colour) => ({ ...r.scene, objects: [{ ...o, colour }] })),
        ...DEFAULT_KINDS.filter((k) => k !== o.kind).map((kind) => ({ ...r.scene, objects: [{ ...o, kind }] })),
      ];
      expect(edits.some((s) => checkResponse(s, q, bad(r)).correct)).toBe(true);
      // One sentence each, of the same form: the texts differ only in the answer.
      const [g, b] = [good(r), bad(r)].map((t) => parseClaim(3, t));
      expect(g.t).toBe(b.t);
      expect(splitSentences(bad(r))).toHaveLength(1);
    }
  });

  test('labels 1:1 in each split; attribute/existence, colour/kind and yes/no about evenly split', () => {
    for (const d of level0) {
      for (const split of [d.train, d.test]) {
        expect(split.filter((r) => r.label === 1).length * 2).toBe(split.length);
        expect(split.filter((r) => r.category === 'attribute').length * 2).toBe(split.length);
        for (const category of ['attribute', 'existence']) {
          const group = split.filter((r) => r.category === category);
          expect(Math.abs(group.filter((r) => r.label === 1).length * 2 - group.length)).toBeLessThanOrEqual(1);
        }
      }
    }
    const existence = rows0.filter((r) => r.category === 'existence');
    const yes = existence.filter((r) => oracle(r.scene, r.question) === 'yes').length / existence.length;
    const byColour = rows0.filter((r) => /colour|Is there a (red|green|blue|yellow|purple) shape/.test(r.question)).length / rows0.length;
    expect(Math.abs(yes - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(byColour - 0.5)).toBeLessThan(0.05);
  });

  test('a bag-of-words judge of the response texts sits at chance; given the shape it is not blind', () => {
    const words = (t: string) => [...new Set(t.toLowerCase().match(/[a-z]+/g) ?? [])];
    // Weight of a feature: how often it is in the right response minus how often in the wrong one (train rows).
    const fit = (rows: SyntheticRow[], features: (r: SyntheticRow, text: string) => string[]) => {
      const w = new Map<string, number>();
      for (const r of rows) {
        for (const f of features(r, good(r))) w.set(f, (w.get(f) ?? 0) + 1);
        for (const f of features(r, bad(r))) w.set(f, (w.get(f) ?? 0) - 1);
      }
      return (r: SyntheticRow) => {
        const score = (t: string) => features(r, t).reduce((s, f) => s + (w.get(f) ?? 0), 0);
        const d = score(r.response1) - score(r.response2);
        return d === 0 ? 0.5 : (d > 0 ? 1 : 2) === r.label ? 1 : 0;
      };
    };
    const accuracy = (judge: (r: SyntheticRow) => number, rows: SyntheticRow[]) => rows.reduce((s, r) => s + judge(r), 0) / rows.length;
    const fitted = level0.slice(0, 2).flatMap(rowsOf);
    const heldOut = level0.slice(2).flatMap(rowsOf);
    // Blind: the question's and the response's words (each response word, and each pair with a question word).
    const blind = (r: SyntheticRow, t: string) => words(t).flatMap((x) => [x, ...words(r.question).map((y) => `${y}|${x}`)]);
    const chance = accuracy(fit(fitted, blind), heldOut);
    expect(Math.abs(chance - 0.5)).toBeLessThan(0.05);
    // The same judge told what the shape is (words of the response paired with the shape's colour and kind)
    // reads the attribute questions: the judge can learn when the texts carry the label.
    const seeing = (r: SyntheticRow, t: string) => words(t).flatMap((x) => [objectOf(r).colour, objectOf(r).kind].map((y) => `${y}|${x}`));
    const attribute = (rows: SyntheticRow[]) => rows.filter((r) => r.category === 'attribute');
    expect(accuracy(fit(attribute(fitted), seeing), attribute(heldOut))).toBeGreaterThan(0.95);
  });

  test('deterministic per seed', () => {
    expect(JSON.stringify(synthesize({ n: 400, seed: 11, levels: [0] }))).toBe(JSON.stringify(level0[0]));
    expect(JSON.stringify(level0[1].train.slice(0, 10))).not.toBe(JSON.stringify(level0[0].train.slice(0, 10)));
  });

  test("levels 0-4 together: levels, pairs and each level group's categories spread evenly, labels 1:1", () => {
    const d = synthesize({ n: 250, seed: 4, levels: [0, 1, 2, 3, 4] });
    expect(d.options.levels).toEqual([0, 1, 2, 3, 4]);
    const spread = (rows: SyntheticRow[], key: (r: SyntheticRow) => string, groups: number) => {
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
      expect(counts.size).toBe(groups);
      expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(1);
    };
    for (const split of [d.train, d.test]) {
      expect(split.filter((r) => r.label === 1).length * 2).toBe(split.length);
      spread(split, (r) => String(r.difficulty), 5);
      // Level 0 asks attribute and existence questions only; levels 1-4 all five categories.
      spread(
        split.filter((r) => r.difficulty === 0),
        (r) => r.category,
        2,
      );
      const upper = split.filter((r) => r.difficulty > 0);
      spread(upper, (r) => r.category, 5);
      spread(upper, (r) => `${r.difficulty}/${r.category}`, 20);
      for (const r of split) expect(verifySyntheticRow(r).ok).toBe(true);
    }
    // Only attribute and existence asked: one group of five levels, every pair.
    const ae = synthesize({ n: 20, seed: 2, levels: [0, 1, 2, 3, 4], categories: ['attribute', 'existence'], testFraction: 0 }).train;
    spread(ae, (r) => `${r.difficulty}/${r.category}`, 10);
    expect(synthesize({ n: 8, seed: 2, levels: [0], categories: ['attribute', 'relation'] }).train.every((r) => r.category === 'attribute')).toBe(true);
  });

  test("other grids: still one shape, named in the evidence line the grid's way", () => {
    for (const grid of [2, 4, 8]) {
      for (const r of rowsOf(synthesize({ n: 40, seed: 5, grid, levels: [0] }))) {
        expect(r.scene.objects).toHaveLength(1);
        expect(verifySyntheticRow(r).ok).toBe(true);
        const o = objectOf(r);
        expect(r.teacher.startsWith(`<think>${cellName(grid, o.row, o.col)}: ${o.colour} ${o.kind}\n`)).toBe(true);
      }
    }
  });

  test('few distinct samples: 9 cells x 2 kinds x 2 colours x 2 questions = 72 attribute rows at most, then a clear error', () => {
    const small = { seed: 3, levels: [0], categories: ['attribute'] as const, kinds: ['circle', 'square'] as const, colours: ['red', 'blue'] as const };
    const all = rowsOf(synthesize({ ...small, n: 72, testFraction: 0.25 }));
    expect(new Set(all.map((r) => r.question + JSON.stringify(r.scene.objects.map((o) => [o.row, o.col, o.colour, o.kind])))).size).toBe(72);
    expect(() => synthesize({ ...small, n: 74 })).toThrow(/refused \(already drawn\); level 0 has too few distinct attribute samples/);
  });

  test('generateSample refuses a category level 0 does not ask', () => {
    const opts = { grid: 3, kinds: DEFAULT_KINDS, colours: DEFAULT_COLOURS, budgets: DEFAULT_BUDGETS, maxAttempts: 10 };
    expect(() => generateSample({ seed: 1, index: 0, level: 0, category: 'count', label: 1 }, opts)).toThrow(/level 0 asks no count questions/);
    expect(generateSample({ seed: 1, index: 0, level: 0, category: 'existence', label: 2 }, opts).scene.objects).toHaveLength(1);
  });
});

test("the README's example rows: the first train row of --n 2000 --seed 1 (levels 1-4 unchanged), a level-0 teacher", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'data', 'README.md'), 'utf8');
  const example = /first train row of `--n 2000 --seed 1`\):\n\n```json\n([\s\S]+?)\n```/.exec(readme);
  expect(example).not.toBeNull();
  expect(synthesize({ n: 2000, seed: 1 }).train[0]).toEqual(JSON.parse(example![1]));
  // And its level-0 teacher example.
  const level0 = /\(row (s1-\d+) of `--n 40 --seed 1 --levels 0`\):\n\n```\n([\s\S]+?)\n```/.exec(readme);
  expect(level0).not.toBeNull();
  expect(synthesize({ n: 40, seed: 1, levels: [0] }).train.find((r) => r.id === level0![1])?.teacher).toBe(level0![2]);
});
