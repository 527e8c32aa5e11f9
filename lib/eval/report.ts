/** DIR/report.html: one self-contained page (no scripts, no external files) with an inline SVG Voting@k curve. */
import type { EvalSummary } from './summary';

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** An SVG line chart of accuracy against k for one or more series. */
export function curveSvg(series: Array<{ name: string; color: string; points: Record<string, number> }>): string {
  const W = 560;
  const H = 300;
  const m = { l: 52, r: 16, t: 16, b: 40 };
  const ks = [...new Set(series.flatMap((s) => Object.keys(s.points).map(Number)))].sort((a, b) => a - b);
  const kMax = Math.max(1, ...ks);
  const all = series.flatMap((s) => Object.values(s.points));
  let lo = Math.min(...all, 1);
  let hi = Math.max(...all, 0);
  lo = Math.max(0, Math.floor((lo - 0.02) * 20) / 20);
  hi = Math.min(1, Math.ceil((hi + 0.02) * 20) / 20);
  if (hi - lo < 0.1) lo = Math.max(0, hi - 0.1);
  const x = (k: number) => m.l + (kMax === 1 ? (W - m.l - m.r) / 2 : ((k - 1) / (kMax - 1)) * (W - m.l - m.r));
  const y = (v: number) => m.t + (1 - (v - lo) / (hi - lo || 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Voting@k curve">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  for (let i = 0; i <= 5; i++) {
    const v = lo + ((hi - lo) * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${(100 * v).toFixed(0)}%</text>`);
  }
  const step = Math.max(1, Math.ceil(ks.length / 15));
  ks.forEach((k, i) => {
    if (i % step === 0 || k === kMax) parts.push(`<text x="${x(k).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${k}</text>`);
  });
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">k (samples)</text>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#999"/>`);
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#999"/>`);
  series.forEach((s, si) => {
    const pts = Object.entries(s.points)
      .map(([k, v]) => [Number(k), v] as const)
      .sort((a, b) => a[0] - b[0]);
    const d = pts.map(([k, v]) => `${x(k).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${d}"/>`);
    for (const [k, v] of pts) {
      parts.push(
        `<circle cx="${x(k).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeHtml(s.name)} @${k}: ${pct(v)}</title></circle>`,
      );
    }
    parts.push(`<rect x="${m.l + 10}" y="${m.t + 6 + si * 16}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${m.l + 26}" y="${m.t + 15 + si * 16}" font-size="12">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  return (
    `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>'
  );
}

export function renderReport(s: EvalSummary): string {
  const headline: Array<[string, string]> = [
    ['Benchmark', s.bench],
    ['Model', s.model],
    ['Judge', s.judge],
    ['Pairs', String(s.pairs)],
    ['Evaluations (pair x order)', String(s.evaluations)],
    ['Samples K / temperature / top-p', `${s.samples} / ${s.temperature} / ${s.topP ?? 1}`],
    ['Overall accuracy (final verdict)', pct(s.overall)],
    ['Macro accuracy', pct(s.macro)],
    ['Mean single-sample accuracy', pct(s.meanSampleAccuracy)],
    ['Parse failures (counted wrong)', `${s.parseFailures.count} (${pct(s.parseFailures.rate)})`],
    ['Fallback-parsed samples', String(s.parseFallbacks)],
    ['Skipped rows', String(s.skipped.count)],
  ];
  if (s.accPlus) headline.push(['Acc+ (all rows of an id right)', `${pct(s.accPlus.accuracy)} of ${s.accPlus.ids} ids`]);
  if (s.positionConsistency !== undefined) headline.push(['Position consistency (same choice in both orders)', pct(s.positionConsistency)]);
  const ks = Object.keys(s.votingAtK);
  const sections = [
    `<h1>Reward model evaluation: ${escapeHtml(s.bench)}</h1>`,
    `<p class="muted">${escapeHtml(s.createdAt)} &middot; data ${escapeHtml(s.data)}</p>`,
    table(['', ''], headline),
    ...s.warnings.map((w) => `<p><strong>Warning:</strong> ${escapeHtml(w)}</p>`),
    '<h2>Test-time scaling</h2>',
    curveSvg([
      { name: 'Voting@k', color: '#1f77b4', points: s.votingAtK },
      { name: 'Any-correct@k', color: '#ff7f0e', points: s.anyCorrectAtK },
    ]),
    table(
      ['k', 'Voting@k', 'Any-correct@k'],
      ks.map((k) => [k, pct(s.votingAtK[k]), pct(s.anyCorrectAtK[k])]),
    ),
    '<h2>Categories</h2>',
    table(
      ['category', 'n', 'accuracy'],
      Object.entries(s.categories).map(([c, a]) => [c, a.n, pct(a.accuracy)]),
    ),
    '<h2>Position</h2>',
    table(
      ['preferred response shown as', 'n', 'accuracy'],
      Object.entries(s.byPreferredPosition).map(([p, a]) => [`Response ${p}`, a.n, pct(a.accuracy)]),
    ),
  ];
  if (s.orders) {
    sections.push(
      table(
        ['order', 'n', 'accuracy'],
        Object.entries(s.orders).map(([o, a]) => [o, a.n, pct(a.accuracy)]),
      ),
    );
  }
  if (s.difficulties) {
    sections.push(
      '<h2>Difficulty</h2>',
      table(
        ['difficulty', 'n', 'accuracy'],
        Object.entries(s.difficulties).map(([d, a]) => [d, a.n, pct(a.accuracy)]),
      ),
    );
  }
  if (s.parseFailures.count > 0) {
    sections.push(
      '<h2>Parse failures</h2>',
      table(['reason', 'samples'], Object.entries(s.parseFailures.byReason)),
      table(
        ['pair', 'order', 'sample', 'reason', 'output (start)'],
        s.parseFailures.examples.map((e) => [e.key, e.order, e.sample, e.reason, e.output]),
      ),
    );
  }
  if (s.skipped.count > 0) {
    sections.push(
      '<h2>Skipped rows</h2>',
      table(
        ['row', 'id', 'reason'],
        s.skipped.rows.slice(0, 100).map((r) => [r.row, r.id ?? '', r.reason]),
      ),
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${s.bench} - ${s.model}`)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:900px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.muted{color:#777}td{max-width:520px;overflow-wrap:anywhere;white-space:pre-wrap}
</style></head><body>
${sections.join('\n')}
</body></html>
`;
}
