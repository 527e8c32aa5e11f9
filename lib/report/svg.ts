/**
 * Small, dependency-free SVG line charts for the training report: several
 * series, an optional second y axis, vertical markers (the stage boundary),
 * dashed lines, point markers for sparse series. Output is a standalone <svg>
 * element (inline in HTML, or rasterised to PNG with sharp).
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  dashed?: boolean;
  /** Draw a dot at each point (sparse series such as evaluations). */
  dots?: boolean;
  /** Plot against the right-hand axis. */
  right?: boolean;
}

export interface Marker {
  x: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  yRightLabel?: string;
  series: Series[];
  markers?: Marker[];
  /** Format y values as percentages (0..1 -> 0..100%). */
  percent?: boolean;
  /** Fixed y range (left axis). */
  yRange?: [number, number];
  /** Fixed x range (e.g. the whole run, so sparse series sit where they belong). */
  xRange?: [number, number];
  width?: number;
  height?: number;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function range(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return fallback;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function fmt(v: number, percent: boolean): string {
  if (percent) return `${(100 * v).toFixed(Math.abs(v * 100) < 10 && v !== 0 ? 1 : 0)}%`;
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 320;
  const hasRight = o.series.some((s) => s.right && s.points.length > 0);
  const m = { l: 64, r: hasRight ? 64 : 20, t: 34, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const left = o.series.filter((s) => !s.right);
  const right = o.series.filter((s) => s.right);
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0])).concat((o.markers ?? []).map((mk) => mk.x));
  const [x0, x1] =
    o.xRange ??
    (() => {
      const f = xs.filter(Number.isFinite);
      if (f.length === 0) return [0, 1];
      const lo = Math.min(...f);
      const hi = Math.max(...f);
      return hi > lo ? [lo, hi] : [lo - 1, hi + 1];
    })();
  const [y0, y1] =
    o.yRange ??
    range(
      left.flatMap((s) => s.points.map((p) => p[1])),
      o.percent ? [0, 1] : [0, 1],
    );
  const [r0, r1] = range(
    right.flatMap((s) => s.points.map((p) => p[1])),
    [0, 1],
  );
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + (1 - (y - y0) / (y1 - y0)) * ph;
  const YR = (y: number) => m.t + (1 - (y - r0) / (r1 - r0)) * ph;
  const p: string[] = [];
  p.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" role="img" aria-label="${escapeXml(o.title)}">`,
  );
  p.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  p.push(`<text x="${m.l}" y="20" font-size="14" font-weight="bold" fill="#222">${escapeXml(o.title)}</text>`);
  for (const v of niceTicks(y0, y1)) {
    if (v < y0 || v > y1) continue;
    const y = Y(v).toFixed(1);
    p.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#eeeeee"/>`);
    p.push(`<text x="${m.l - 6}" y="${(Y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#444">${fmt(v, Boolean(o.percent))}</text>`);
  }
  if (hasRight) {
    for (const v of niceTicks(r0, r1)) {
      if (v < r0 || v > r1) continue;
      p.push(`<text x="${W - m.r + 6}" y="${(YR(v) + 4).toFixed(1)}" font-size="11" fill="#444">${fmt(v, false)}</text>`);
    }
    p.push(
      `<text transform="translate(${W - 12},${m.t + ph / 2}) rotate(90)" font-size="12" text-anchor="middle" fill="#444">${escapeXml(o.yRightLabel ?? '')}</text>`,
    );
  }
  for (const v of niceTicks(x0, x1, 8)) {
    if (v < x0 || v > x1) continue;
    p.push(`<text x="${X(v).toFixed(1)}" y="${H - m.b + 16}" font-size="11" text-anchor="middle" fill="#444">${fmt(v, false)}</text>`);
  }
  p.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999999"/>`);
  p.push(`<text x="${m.l + pw / 2}" y="${H - 8}" font-size="12" text-anchor="middle" fill="#444">${escapeXml(o.xLabel)}</text>`);
  p.push(`<text transform="translate(14,${m.t + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="#444">${escapeXml(o.yLabel)}</text>`);
  for (const mk of o.markers ?? []) {
    const x = X(mk.x).toFixed(1);
    p.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#555555" stroke-dasharray="4 3"/>`);
    const nearRight = X(mk.x) > m.l + 0.7 * pw; // keep the label inside the plot
    p.push(
      `<text x="${(X(mk.x) + (nearRight ? -4 : 4)).toFixed(1)}" y="${m.t + ph - 6}" font-size="11" fill="#555"${nearRight ? ' text-anchor="end"' : ''}>${escapeXml(mk.label)}</text>`,
    );
  }
  o.series.forEach((s) => {
    const yf = s.right ? YR : Y;
    const pts = s.points.filter((q) => Number.isFinite(q[0]) && Number.isFinite(q[1]));
    if (pts.length === 0) return;
    const d = pts.map((q) => `${X(q[0]).toFixed(1)},${yf(q[1]).toFixed(1)}`).join(' ');
    p.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`);
    if (s.dots || pts.length === 1) {
      for (const q of pts) p.push(`<circle cx="${X(q[0]).toFixed(1)}" cy="${yf(q[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
  });
  // Legend, top right inside the plot.
  const shown = o.series.filter((s) => s.points.length > 0);
  if (shown.length) p.push(`<rect x="${m.l + pw - 196}" y="${m.t + 2}" width="192" height="${shown.length * 15 + 6}" fill="#ffffff" fill-opacity="0.85"/>`);
  shown.forEach((s, i) => {
    const y = m.t + 8 + i * 15;
    const x = m.l + pw - 190;
    p.push(`<line x1="${x}" x2="${x + 18}" y1="${y + 4}" y2="${y + 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    p.push(`<text x="${x + 24}" y="${y + 8}" font-size="11" fill="#222">${escapeXml(s.name + (s.right ? ' (right axis)' : ''))}</text>`);
  });
  p.push('</svg>');
  return p.join('\n');
}
