/**
 * Where a judge's analyses go wrong (research tool, not a benchmark): for a training run on the built-in data, each
 * greedy test output of evals/<tag>.json is compared link by link with the teacher analysis of its row (caption
 * lines when the run wrote caption-first analyses, evidence lines, the fact line, the answer line, the two response
 * lines, the detail lines of a pair whose answers agree, the verdict), by level, category and kind of pair.
 *
 *   node dist/scripts/chain-breakdown.js --run DIR [--tag stage1]
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseFlags, requireStr, str } from '../lib/cli/args';
import { FACT_PREFIX } from '../lib/data/generate';
import type { Scene } from '../lib/data/scene';
import { withCaptionFirst } from '../lib/train/dataset';

const flags = parseFlags(process.argv.slice(2), { run: { type: 'string' }, tag: { type: 'string' } });
const run = requireStr(flags, 'run', 'a training run folder');
const tag = str(flags, 'tag') ?? 'stage1';

interface Row {
  id: string;
  question: string;
  teacher: string;
  scene: Scene;
  difficulty: number;
  category: string;
}
interface Output {
  id: string;
  text: string;
  correct: boolean;
  verdict: number | null;
}

const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
const dataDir = config.data.dir ?? path.join(run, 'data');
const rows = new Map<string, Row>(
  fs
    .readFileSync(path.join(dataDir, 'test.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row)
    .map((r) => [r.id, r]),
);
const outputs = JSON.parse(fs.readFileSync(path.join(run, 'evals', `${tag}.json`), 'utf8')) as Output[];
const links = ['caption', 'evidence', 'fact', 'answer', 'response 1', 'response 2', 'details', 'verdict'] as const;
type Tally = Record<(typeof links)[number], number> & { n: number };
const tallies = new Map<string, Tally>();
const tally = (key: string) => {
  if (!tallies.has(key)) tallies.set(key, { n: 0, caption: 0, evidence: 0, fact: 0, answer: 0, 'response 1': 0, 'response 2': 0, details: 0, verdict: 0 });
  return tallies.get(key)!;
};
const inner = (t: string) =>
  t
    .replace(/^<think>/, '')
    .split('</think>')[0]
    .split('\n');

for (const o of outputs) {
  const row = rows.get(o.id);
  if (!row) throw new Error(`test row ${o.id} of ${tag}.json is not in ${dataDir}/test.jsonl`);
  // The caption lines (marked where the question's filter matches) when the run wrote caption-first analyses.
  const teacher = config.data.captionFirst ? withCaptionFirst({ ...row, image: '', response1: '', response2: '', label: 1 }).teacher! : row.teacher;
  const caption = { length: config.data.captionFirst ? row.scene.grid * row.scene.grid : 0 };
  const want = inner(teacher.slice(teacher.indexOf('<think>') + '<think>'.length));
  const got = inner(o.text.slice(Math.max(0, o.text.indexOf('<think>'))));
  const at = want.findIndex((l) => l.startsWith(FACT_PREFIX));
  const same = (a: number, b: number) => JSON.stringify(got.slice(a, b)) === JSON.stringify(want.slice(a, b));
  const ok = {
    caption: same(0, caption.length),
    evidence: same(caption.length, at),
    fact: got[at] === want[at],
    answer: got[at + 1] === want[at + 1],
    'response 1': got[at + 2] === want[at + 2],
    'response 2': got[at + 3] === want[at + 3],
    // Between the response lines and the conclusion (none when the answers differ).
    details: same(at + 4, want.length - 1) && got.length === want.length,
    verdict: o.correct,
  };
  const pair = want.length > at + 5 ? 'pair: answers agree' : 'pair: answers differ';
  for (const key of ['all', `level ${row.difficulty}`, row.category, pair]) {
    const t = tally(key);
    t.n++;
    for (const l of links) t[l] += Number(ok[l]);
  }
}
const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(1)}%`;
console.log(`${run}, evals/${tag}.json: share of test rows whose link equals the teacher's`);
console.log(['', 'n', ...links].join('\t'));
for (const [key, t] of [...tallies].sort(([a], [b]) => (a === 'all' ? -1 : b === 'all' ? 1 : a.localeCompare(b)))) {
  console.log([key, t.n, ...links.map((l) => pct(t[l], t.n))].join('\t'));
}
