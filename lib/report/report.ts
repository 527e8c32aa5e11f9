/**
 * report.html for one training run or several (ablation overlays): a single
 * self-contained page (no scripts, no external files) with inline SVG plots of
 * reward, test accuracy, response length and loss against the step with the
 * stage boundary marked, the Voting@K curve, tables, and a few example
 * outputs; the same plots are also written as PNG files (sharp rasterises the
 * SVG).
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import type { TrainConfig } from '../train/config';
import { algoDefaults, effectiveRl } from '../train/config';
import type { GreedyOutput } from '../train/evaluate';
import { readMetrics, type StepLine } from '../train/metrics';
import type { RunSummary } from '../train/types';
import { PALETTE, Series, escapeXml, lineChart } from './svg';

export interface ReportRun {
  dir: string;
  /** Short label: the folder name plus the ablation switches when runs differ. */
  name: string;
  config: TrainConfig;
  metrics: StepLine[];
  summary: RunSummary | null;
  voting: { votingAtK: Record<string, number>; anyCorrectAtK: Record<string, number>; k: number } | null;
  examples: GreedyOutput[];
}

function readJsonIf<T>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

export function loadRun(dir: string): ReportRun {
  const abs = path.resolve(dir);
  const config = readJsonIf<TrainConfig>(path.join(abs, 'config.json'));
  if (!config) throw new Error(`${abs} is not a training run folder (no config.json)`);
  const examples =
    readJsonIf<GreedyOutput[]>(path.join(abs, 'evals', 'stage2.json')) ?? readJsonIf<GreedyOutput[]>(path.join(abs, 'evals', 'stage1.json')) ?? [];
  return {
    dir: abs,
    name: path.basename(abs),
    config,
    metrics: readMetrics(path.join(abs, 'metrics.jsonl')),
    summary: readJsonIf<RunSummary>(path.join(abs, 'summary.json')),
    voting: readJsonIf(path.join(abs, 'voting.json')),
    examples: examples.slice(0, 4),
  };
}

function label(r: ReportRun, distinct: boolean): string {
  if (!distinct) return r.name;
  const e = effectiveRl(r.config.rl);
  const d = algoDefaults(r.config.rl.algo);
  const off = [
    !e.preClip && 'no Pre-CLIP',
    !e.filter && 'no filter',
    !e.consistency && 'no consistency',
    e.baseline !== d.baseline && `baseline ${e.baseline}`,
    e.dynamicFilter !== d.dynamicFilter && `dynamic filter ${e.dynamicFilter ? 'on' : 'off'}`,
  ].filter(Boolean);
  return `${r.name} (${r.config.rl.algo}${off.length ? ', ' + off.join(', ') : ''}, seed ${r.config.seed})`;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const pts = (lines: StepLine[], x: (l: StepLine) => number, y: (l: StepLine) => number) =>
  lines.map((l) => [x(l), y(l)] as [number, number]).filter((q) => Number.isFinite(q[0]) && Number.isFinite(q[1]));

interface Eval {
  accuracy: number;
  hardAccuracy: number;
  meanLength: number;
  /** Share of the parsed verdicts that name Response 1 (absent in runs from before it was logged). */
  answersOne?: number;
}
const evalOf = (l: StepLine) => (l.eval ?? null) as Eval | null;

function sftSteps(r: ReportRun): number {
  if (r.summary) return r.summary.sftSteps;
  const sft = r.metrics.filter((l) => l.stage === 'sft');
  return sft.length ? Math.max(...sft.map((l) => l.globalStep)) : 0;
}

export interface Charts {
  reward: string;
  accuracy: string;
  verdicts: string;
  length: string;
  loss: string;
  voting: string | null;
  diagnostics: string;
}

export function buildCharts(runs: ReportRun[]): Charts {
  const many = runs.length > 1;
  const color = (i: number, j = 0) => PALETTE[(many ? i : j) % PALETTE.length];
  const lastStep = Math.max(1, ...runs.flatMap((r) => r.metrics.map((l) => l.globalStep)));
  const whole: [number, number] = [0, lastStep];
  const boundary = runs.length && runs.every((r) => sftSteps(r) === sftSteps(runs[0])) ? [{ x: sftSteps(runs[0]), label: 'stage 1 | stage 2' }] : [];

  const reward: Series[] = runs.flatMap((r, i) => {
    const rl = r.metrics.filter((l) => l.stage === 'rl');
    const name = label(r, many);
    const base: Series[] = [
      {
        name: many ? name : 'reward',
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.reward),
        ),
        color: color(i, 0),
      },
    ];
    if (!many) {
      base.push({
        name: 'result (right verdict)',
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.result),
        ),
        color: color(i, 1),
        dashed: true,
      });
      base.push({
        name: 'format',
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.format),
        ),
        color: color(i, 2),
        dashed: true,
      });
      base.push({
        name: 'consistency',
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.consistency),
        ),
        color: color(i, 3),
        dashed: true,
      });
    }
    return base;
  });

  const accuracy: Series[] = runs.flatMap((r, i) => {
    const ev = r.metrics.filter((l) => evalOf(l));
    const name = many ? label(r, true) : 'test';
    const s0 = r.summary?.evals.find((e) => e.globalStep === 0);
    const extra = s0 ? ([[0, s0.summary.accuracy]] as [number, number][]) : [];
    const extraH = s0 ? ([[0, s0.summary.hard.accuracy]] as [number, number][]) : [];
    return [
      {
        name: `${name}: all`,
        points: [
          ...extra,
          ...pts(
            ev,
            (l) => l.globalStep,
            (l) => num(evalOf(l)!.accuracy),
          ),
        ],
        color: color(i, 0),
        dots: true,
      },
      {
        name: `${name}: hard subset`,
        points: [
          ...extraH,
          ...pts(
            ev,
            (l) => l.globalStep,
            (l) => num(evalOf(l)!.hardAccuracy),
          ),
        ],
        color: color(i, 1),
        dots: true,
        dashed: true,
      },
      ...(!many
        ? [
            {
              name: 'RL rollouts (train, sampled)',
              points: pts(
                r.metrics.filter((l) => l.stage === 'rl'),
                (l) => l.globalStep,
                (l) => num(l.accuracy),
              ),
              color: color(i, 2),
            },
          ]
        : []),
    ];
  });

  // Labels are 1:1, so a share of "1" verdicts far from 50% is position bias: it can move with an update and look
  // like learning (or unlearning) in the accuracy curve.
  const verdicts: Series[] = [
    ...runs.map((r, i) => ({
      name: many ? label(r, true) : 'greedy test outputs',
      points: pts(
        r.metrics.filter((l) => typeof evalOf(l)?.answersOne === 'number'),
        (l) => l.globalStep,
        (l) => num(evalOf(l)!.answersOne),
      ),
      color: color(i, 0),
      dots: true,
    })),
    { name: 'balanced (labels 1:1)', points: whole.map((x) => [x, 0.5] as [number, number]), color: '#999999', dashed: true },
  ];

  const length: Series[] = runs.flatMap((r, i) => {
    const name = many ? label(r, true) + ': ' : '';
    return [
      {
        name: `${name}RL rollouts`,
        points: pts(
          r.metrics.filter((l) => l.stage === 'rl'),
          (l) => l.globalStep,
          (l) => num(l.responseLength),
        ),
        color: color(i, 0),
      },
      {
        name: `${name}greedy test outputs`,
        points: pts(
          r.metrics.filter((l) => evalOf(l)),
          (l) => l.globalStep,
          (l) => num(evalOf(l)!.meanLength),
        ),
        color: color(i, 1),
        dots: true,
        dashed: true,
      },
    ];
  });

  const loss: Series[] = runs.flatMap((r, i) => {
    const name = many ? label(r, true) + ': ' : '';
    return [
      {
        name: `${name}SFT NLL`,
        points: pts(
          r.metrics.filter((l) => l.stage === 'sft'),
          (l) => l.globalStep,
          (l) => num(l.loss),
        ),
        color: color(i, 0),
      },
      {
        name: `${name}RL policy loss`,
        points: pts(
          r.metrics.filter((l) => l.stage === 'rl'),
          (l) => l.globalStep,
          (l) => num(l.loss),
        ),
        color: color(i, 1),
        right: true,
      },
    ];
  });

  const diagnostics: Series[] = runs.flatMap((r, i) => {
    const rl = r.metrics.filter((l) => l.stage === 'rl');
    const name = many ? label(r, true) + ': ' : '';
    return [
      {
        name: `${name}clip fraction`,
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.clipFraction),
        ),
        color: color(i, 0),
      },
      {
        name: `${name}filtered fraction`,
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.filteredFraction),
        ),
        color: color(i, 1),
        dashed: true,
      },
      {
        name: `${name}ratio max`,
        points: pts(
          rl,
          (l) => l.step,
          (l) => num(l.ratioMax),
        ),
        color: color(i, 2),
        right: true,
      },
    ];
  });

  const withVoting = runs.filter((r) => r.voting);
  const voting = withVoting.length
    ? lineChart({
        title: 'Voting@K on the test split (final model)',
        xLabel: 'K (samples per pair, majority vote)',
        yLabel: 'accuracy',
        percent: true,
        series: withVoting.flatMap((r, i) => [
          {
            name: many ? label(r, true) : 'Voting@K',
            points: Object.entries(r.voting!.votingAtK).map(([k, v]) => [Number(k), v] as [number, number]),
            color: color(i, 0),
            dots: true,
          },
          ...(!many
            ? [
                {
                  name: 'any correct@K',
                  points: Object.entries(r.voting!.anyCorrectAtK).map(([k, v]) => [Number(k), v] as [number, number]),
                  color: color(i, 1),
                  dashed: true,
                },
              ]
            : []),
        ]),
      })
    : null;

  return {
    reward: lineChart({ title: 'Stage 2 reward per step (rollout means)', xLabel: 'RL step', yLabel: 'reward', series: reward }),
    accuracy: lineChart({
      title: 'Accuracy (greedy test evaluations; RL rollouts)',
      xLabel: 'step (stage 1, then stage 2)',
      yLabel: 'accuracy',
      percent: true,
      yRange: [0, 1],
      xRange: whole,
      series: accuracy,
      markers: boundary,
    }),
    verdicts: lineChart({
      title: 'Share of "1" verdicts (greedy test evaluations)',
      xLabel: 'step (stage 1, then stage 2)',
      yLabel: 'verdict "1"',
      percent: true,
      yRange: [0, 1],
      xRange: whole,
      series: verdicts,
      markers: boundary,
    }),
    length: lineChart({
      title: 'Mean response length',
      xLabel: 'step (stage 1, then stage 2)',
      yLabel: 'tokens',
      xRange: whole,
      series: length,
      markers: boundary,
    }),
    loss: lineChart({
      title: 'Loss',
      xLabel: 'step (stage 1, then stage 2)',
      yLabel: 'SFT NLL (nats/token)',
      yRightLabel: 'RL policy loss',
      xRange: whole,
      series: loss,
      markers: boundary,
    }),
    voting,
    diagnostics: lineChart({ title: 'Stage 2 diagnostics', xLabel: 'RL step', yLabel: 'fraction of tokens', yRightLabel: 'max ratio', series: diagnostics }),
  };
}

const pct = (x: number | undefined | null) => (typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');

function table(head: string[], rows: Array<Array<string | number>>): string {
  return (
    `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

export function renderHtml(runs: ReportRun[], charts: Charts = buildCharts(runs)): string {
  const many = runs.length > 1;
  const parts: string[] = [];
  parts.push('<!doctype html><html><head><meta charset="utf-8">');
  parts.push(`<title>stable-reinforce training report${many ? ` (${runs.length} runs)` : `: ${escapeXml(runs[0]?.name ?? '')}`}</title>`);
  parts.push(
    '<style>body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1340px;margin:24px auto;padding:0 16px;color:#222}' +
      'table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}' +
      'th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:12px}.note{color:#555;font-size:14px}' +
      'pre{background:#f7f7f7;padding:8px;white-space:pre-wrap;font-size:13px}ul.summary li{margin:4px 0}</style></head><body>',
  );
  parts.push(`<h1>Training report${many ? ': ' + runs.length + ' runs' : ''}</h1>`);
  parts.push(
    '<p class="note">Two-stage R1-Reward training (stage 1: supervised cold start on teacher analyses; stage 2: reinforcement learning). ' +
      'Test accuracy is greedy (temperature 0); a verdict counts only when the output has exactly one &lt;answer&gt; block, as in the result reward. ' +
      "The hard subset is the test samples whose generator level is in <code>eval.hardLevels</code> (fixed before training, so stage 2 is not flattered by selecting on the stage-1 model's own mistakes).</p>",
  );

  for (const r of runs) {
    if (!r.summary) {
      parts.push(`<p class="note"><b>${escapeXml(r.name)}</b>: no summary.json (run incomplete); plots show what metrics.jsonl holds.</p>`);
      continue;
    }
    parts.push(
      `<h2>${escapeXml(many ? label(r, true) : 'Summary')}</h2><ul class="summary">${r.summary.lines.map((l) => `<li>${escapeXml(l)}</li>`).join('')}</ul>`,
    );
  }

  const rows = runs.map((r) => {
    const s = r.summary;
    const e = effectiveRl(r.config.rl);
    return [
      label(r, many),
      r.config.rl.algo,
      `${e.preClip ? 'on' : 'off'} / ${e.filter ? 'on' : 'off'} / ${e.consistency ? 'on' : 'off'}`,
      r.config.seed,
      pct(s?.stage1.accuracy),
      pct(s?.stage2?.accuracy),
      pct(s?.stage1.hard.accuracy),
      pct(s?.stage2?.hard.accuracy),
      pct(s?.voting?.votingAtK['5']),
      pct(s?.voting ? s.voting.votingAtK[String(s.voting.k)] : undefined),
      pct(s?.voting?.greedy),
      pct(s?.voting?.unreadable),
      s ? `${s.stage1.meanLength.toFixed(0)} → ${s.stage2 ? s.stage2.meanLength.toFixed(0) : '—'}` : '—',
      s
        ? Object.entries(s.seconds)
            .map(([k, v]) => `${k} ${v.toFixed(0)}s`)
            .join(', ')
        : '—',
    ];
  });
  parts.push('<h2>Results</h2>');
  parts.push(
    table(
      [
        'run',
        'algorithm',
        'Pre-CLIP / filter / consistency',
        'seed',
        'acc. stage 1',
        'acc. stage 2',
        'hard stage 1',
        'hard stage 2',
        'Voting@5',
        'Voting@K (max K)',
        'greedy on the voted pairs',
        'voting samples with no verdict',
        'length (tokens)',
        'wall time',
      ],
      rows,
    ),
  );

  parts.push('<h2>Curves</h2><div class="charts">');
  for (const svg of [charts.accuracy, charts.verdicts, charts.reward, charts.length, charts.loss, charts.voting, charts.diagnostics])
    if (svg) parts.push(`<div>${svg}</div>`);
  parts.push('</div>');

  for (const r of runs) {
    const s = r.summary;
    if (!s) continue;
    parts.push(`<h2>Details${many ? ': ' + escapeXml(r.name) : ''}</h2>`);
    if (s.difficulty) {
      parts.push(
        `<p>Training-sample difficulty (attempts the stage-1 model needed; ${r.config.difficulty.attempts + 1} = failed all): ` +
          `${escapeXml(
            Object.entries(s.difficulty.histogram)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', '),
          )}; hard: ${s.difficulty.hard} of ${s.difficulty.total}` +
          `${s.data && s.difficulty.total < s.data.train ? ` measured (of ${s.data.train} training samples; difficulty.limit)` : ''}` +
          `${s.rlPool?.fallback ? ' (none hard: stage 2 used all training samples)' : ''}.</p>`,
      );
    }
    const levels = [...new Set([...Object.keys(s.stage1.byLevel), ...Object.keys(s.stage2?.byLevel ?? {})])].sort();
    if (levels.length) {
      parts.push(
        table(
          ['generator level', 'n', 'stage 1', 'stage 2'],
          levels.map((lv) => [lv, s.stage1.byLevel[lv]?.n ?? 0, pct(s.stage1.byLevel[lv]?.accuracy), pct(s.stage2?.byLevel[lv]?.accuracy)]),
        ),
      );
    }
    const cats = [...new Set([...Object.keys(s.stage1.byCategory ?? {}), ...Object.keys(s.stage2?.byCategory ?? {})])].sort();
    if (cats.length) {
      parts.push(
        table(
          ['question category', 'n', 'stage 1', 'stage 2'],
          cats.map((k) => [k, s.stage1.byCategory[k]?.n ?? 0, pct(s.stage1.byCategory[k]?.accuracy), pct(s.stage2?.byCategory?.[k]?.accuracy)]),
        ),
      );
    }
    parts.push(
      table(
        [
          'evaluation',
          'step',
          'accuracy',
          'hard',
          'acc. when Response 1 is better',
          'acc. when Response 2 is better',
          'verdicts naming Response 1',
          'format kept',
          'no verdict',
          'mean length',
        ],
        s.evals.map((e) => [
          e.tag,
          e.globalStep,
          pct(e.summary.accuracy),
          pct(e.summary.hard.accuracy),
          pct(e.summary.byLabel?.['1']?.accuracy),
          pct(e.summary.byLabel?.['2']?.accuracy),
          pct(e.summary.answersOne),
          pct(e.summary.formatRate),
          e.summary.noVerdict,
          e.summary.meanLength.toFixed(1),
        ]),
      ),
    );
    if (r.examples.length) {
      parts.push('<p>Example greedy test outputs of the final model:</p>');
      for (const ex of r.examples) {
        parts.push(
          `<pre>${escapeXml(`[${ex.id}, label ${ex.label}, verdict ${ex.verdict ?? 'none'}${ex.correct ? ', right' : ', wrong'}]\n${ex.text}`)}</pre>`,
        );
      }
    }
    parts.push(`<details><summary>Configuration</summary><pre>${escapeXml(JSON.stringify(r.config, null, 2))}</pre></details>`);
  }
  parts.push(`<p class="note">Generated ${escapeXml(new Date().toISOString())} from ${runs.map((r) => escapeXml(r.dir)).join(', ')}.</p>`);
  parts.push('</body></html>');
  return parts.join('\n');
}

export interface WriteReportOptions {
  /** The HTML file. */
  out: string;
  /** Folder for PNG copies of the plots (null: none). */
  png?: string | null;
}

/** Writes the report of the runs in `dirs` and returns the files written. */
export async function writeReport(dirs: readonly string[], options: WriteReportOptions): Promise<string[]> {
  if (dirs.length === 0) throw new RangeError('runs: give at least one run folder');
  const runs = dirs.map(loadRun);
  const charts = buildCharts(runs);
  const html = renderHtml(runs, charts);
  await fs.promises.mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
  await fs.promises.writeFile(options.out, html);
  const files = [options.out];
  if (options.png) {
    await fs.promises.mkdir(options.png, { recursive: true });
    for (const [name, svg] of Object.entries(charts)) {
      if (!svg) continue;
      const file = path.join(options.png, `${name}.png`);
      await sharp(Buffer.from(svg as string))
        .png()
        .toFile(file);
      files.push(file);
    }
  }
  return files;
}
