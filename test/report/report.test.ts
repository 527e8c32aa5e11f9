/** The training report: charts from metrics, ablation overlays, self-contained HTML, PNG copies. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { main } from '../../lib/cli/main';
import { buildCharts, loadRun, renderHtml, writeReport } from '../../lib/report/report';
import { lineChart, niceTicks } from '../../lib/report/svg';
import { resolveTrainConfig } from '../../lib/train/presets';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-report-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fake finished run: 4 SFT steps, 6 RL steps, evaluations, Voting@K, summary. */
function fakeRun(name: string, overrides: object, accAfter: number): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'evals'), { recursive: true });
  const config = resolveTrainConfig('smoke', overrides);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const ev = (tag: string, acc: number) => ({
    tag,
    accuracy: acc,
    hardAccuracy: acc - 0.1,
    n: 20,
    hardN: 10,
    byLevel: {},
    formatRate: 1,
    meanLength: 100 - 10 * acc,
    noVerdict: 0,
    answersOne: 0.3 + acc / 4,
  });
  const lines = [
    ...[1, 2, 3, 4].map((s) => ({
      stage: 'sft',
      step: s,
      globalStep: s,
      loss: 3 / s,
      gradNorm: 1,
      seconds: 1,
      ...(s === 4 ? { eval: ev('stage1', 0.5) } : {}),
    })),
    ...[1, 2, 3, 4, 5, 6].map((s) => ({
      stage: 'rl',
      step: s,
      globalStep: 4 + s,
      reward: 0.5 + s / 10,
      result: 0.4,
      format: 0.9,
      consistency: 0.3,
      accuracy: 0.45,
      responseLength: 120 - s,
      loss: -0.01 * s,
      ratioMax: 1 + s / 100,
      clipFraction: 0.01,
      filteredFraction: 0.02,
      kl: null,
      gradNorm: 0.5,
      seconds: 2,
      ...(s === 3 ? { eval: ev('rl-3', 0.55) } : s === 6 ? { eval: ev('stage2', accAfter) } : {}),
    })),
  ];
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const acc = (a: number) => ({
    n: 20,
    accuracy: a,
    hard: { n: 10, accuracy: a - 0.1 },
    byLevel: { '1': { n: 5, accuracy: a } },
    formatRate: 1,
    noVerdict: 0,
    meanLength: 100,
  });
  const voting = {
    k: 5,
    n: 20,
    votingAtK: { 1: 0.5, 2: 0.5, 3: 0.55, 4: 0.6, 5: 0.62 },
    anyCorrectAtK: { 1: 0.5, 2: 0.7, 3: 0.8, 4: 0.85, 5: 0.9 },
    hard: { n: 10, votingAtK: {} },
    greedy: 0.57,
    unreadable: 0.035,
  };
  fs.writeFileSync(path.join(dir, 'voting.json'), JSON.stringify(voting));
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({
      sftSteps: 4,
      rlSteps: 6,
      stage1: acc(0.5),
      stage2: acc(accAfter),
      evals: [],
      difficulty: { histogram: { 1: 3, 2: 2, 3: 1, 4: 4 }, hard: 7, total: 10 },
      voting,
      seconds: { data: 1, sft: 4, difficulty: 2, rl: 12, final: 3 },
      lines: [`summary of ${name} <b>`],
      rlPool: { size: 7, fallback: false },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'evals', 'stage2.json'),
    JSON.stringify([
      { index: 0, id: 'x1', label: 2, level: 1, verdict: 2, correct: true, format: 1, length: 9, text: '<think>a & b</think><answer>2</answer>' },
    ]),
  );
  return dir;
}

describe('SVG line chart', () => {
  test('draws each series, the markers and escaped labels', () => {
    const svg = lineChart({
      title: 'T <1>',
      xLabel: 'step',
      yLabel: 'acc',
      percent: true,
      yRange: [0, 1],
      series: [
        {
          name: 'a & b',
          points: [
            [0, 0.1],
            [1, 0.5],
            [2, 0.9],
          ],
          color: '#123456',
        },
        { name: 'c', points: [[1, 2]], color: '#654321', right: true },
        { name: 'empty', points: [], color: '#000000' },
      ],
      markers: [{ x: 1, label: 'boundary' }],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    expect(svg).toContain('a &amp; b');
    expect(svg).toContain('boundary');
    expect(svg).toContain('c (right axis)');
    expect(svg).not.toContain('>empty<');
    const poly = /<polyline[^>]*stroke="#123456"[^>]*points="([^"]+)"/.exec(svg)!;
    expect(poly[1].split(' ')).toHaveLength(3);
    // y = 0.9 is drawn above y = 0.1 (SVG y grows downwards)
    const ys = poly[1].split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys[2]).toBeLessThan(ys[0]);
    expect(svg).toContain('100%');
  });

  test('tick values are round and cover the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });
});

describe('training report', () => {
  test('one run: summary, tables, all charts, the stage boundary at the end of stage 1', () => {
    const run = loadRun(fakeRun('solo', {}, 0.6));
    const charts = buildCharts([run]);
    expect(charts.accuracy).toContain('stage 1 | stage 2');
    expect(charts.loss).toContain('RL policy loss (right axis)');
    expect(charts.voting).toContain('any correct@K');
    expect(charts.verdicts).toContain('Share of &quot;1&quot; verdicts');
    expect(charts.verdicts).toContain('balanced (labels 1:1)');
    const html = renderHtml([run], charts);
    expect(html).toContain('summary of solo &lt;b&gt;');
    expect(html).toContain('a &amp; b');
    expect(html).toContain('60.0%');
    expect(html).toContain('greedy on the voted pairs');
    expect(html).toContain('57.0%');
    expect(html).toContain('voting samples with no verdict');
    expect(html).toContain('3.5%');
    expect(html.match(/<svg/g)!.length).toBe(7);
    expect(html).not.toMatch(/<script|src="http/);
  });

  test('several runs: overlays labelled with algorithm and ablation switches, a results row per run', async () => {
    const a = fakeRun('full', {}, 0.65);
    const b = fakeRun('nofilter', { rl: { filter: false } }, 0.55);
    const c = fakeRun('rpp', { rl: { algo: 'reinforce++' } }, 0.5);
    const d = fakeRun('verdict', { rl: { baseline: 'verdict', dynamicFilter: false } }, 0.5);
    const out = path.join(root, 'cmp', 'report.html');
    const files = await writeReport([a, b, c, d], { out, png: path.join(root, 'cmp', 'plots') });
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('full (stable-reinforce, seed 0)');
    expect(html).toContain('nofilter (stable-reinforce, no filter, seed 0)');
    expect(html).toContain('rpp (reinforce++, no Pre-CLIP, no filter, no consistency, seed 0)');
    // a baseline or dynamic filter other than the algorithm's is named too
    expect(html).toContain('verdict (stable-reinforce, baseline verdict, dynamic filter off, seed 0)');
    expect(html).toContain('on / off / on');
    expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(7);
    for (const f of files.filter((x) => x.endsWith('.png'))) {
      const meta = await sharp(f).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBe(640);
    }
  });

  test('an unfinished run (no summary yet) still gets plots; a folder that is not a run is an error', async () => {
    const dir = fakeRun('partial', {}, 0.5);
    fs.rmSync(path.join(dir, 'summary.json'));
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"stage":"rl","st'); // torn last line (killed mid-write)
    const html = renderHtml([loadRun(dir)]);
    expect(html).toContain('no summary.json (run incomplete)');
    expect(() => loadRun(root)).toThrow(/not a training run folder/);
  });

  test('report command', async () => {
    const a = fakeRun('cli-a', {}, 0.6);
    const b = fakeRun('cli-b', { rl: { consistency: false } }, 0.6);
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, env: {} };
    const file = path.join(root, 'cli.html');
    expect(await main(['report', '--runs', `${a},${b}`, '--out', file, '--no-png'], io)).toBe(0);
    expect(out).toContain(file);
    expect(fs.readFileSync(file, 'utf8')).toContain('cli-b (stable-reinforce, no consistency, seed 0)');
  });
});
