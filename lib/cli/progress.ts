/**
 * A progress bar with rate and ETA for long CLI runs. On a TTY it redraws one line (at most every
 * `intervalMs`, default 100 ms); elsewhere (logs, CI) it prints a plain line at most every 10 s. The rate
 * counts only work done since start(), so a resumed run's ETA is not flattered by skipped items.
 */
import type { ProgressEvent } from '../train/run';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Minimum time between redraws (default 100 ms on a TTY, 10 s otherwise). */
  intervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class ProgressBar {
  private done = 0;
  private base = 0;
  private startedAt: number;
  private lastDraw = -Infinity;
  private lastDrawnDone = -1;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly now: () => number;
  private finished = false;
  private total: number;

  constructor(private readonly options: ProgressOptions) {
    this.total = options.total;
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.interval = options.intervalMs ?? (this.tty ? 100 : 10000);
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Sets the starting point (items already done before this run) and restarts the clock. */
  start(alreadyDone = 0, total = this.total): void {
    this.total = total;
    this.done = this.base = alreadyDone;
    this.startedAt = this.now();
    this.draw(true);
  }

  update(done: number): void {
    this.done = done;
    this.draw(done >= this.total);
  }

  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** Final line (unless the last one drawn already shows it) and a newline on a TTY. */
  finish(note = ''): void {
    if (this.finished) return;
    this.finished = true;
    if (note || this.lastDrawnDone !== this.done) this.draw(true, note);
    if (this.tty) this.stream.write('\n');
  }

  line(note = ''): string {
    const total = this.total;
    const frac = total > 0 ? Math.min(1, this.done / total) : 1;
    const elapsed = (this.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? (this.done - this.base) / elapsed : 0;
    const eta = rate > 0 ? (total - this.done) / rate : NaN;
    const label = this.options.label ? `${this.options.label} ` : '';
    const stats =
      `${this.done}/${total} ${(100 * frac).toFixed(1)}% ${rate.toFixed(rate < 10 ? 2 : 1)}/s ` +
      `elapsed ${formatDuration(elapsed)} ETA ${this.done >= total ? '0s' : formatDuration(eta)}${note ? ' ' + note : ''}`;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 100) - label.length - stats.length - 4));
    const filled = Math.round(frac * width);
    return `${label}[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${stats}`;
  }

  private draw(force: boolean, note = ''): void {
    const t = this.now();
    if (!force && t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    this.lastDrawnDone = this.done;
    if (this.tty) this.stream.write(`\r${this.line(note)}\x1b[K`);
    else this.stream.write(this.line(note) + '\n');
  }
}

/** A training run's progress events (lib/train/run.ts) drawn as progress bars on `stream`, one per task. */
export function progressBars(stream: ProgressStream): (e: ProgressEvent) => void {
  const bars = new Map<string, ProgressBar>();
  return (e) => {
    let bar = bars.get(e.task);
    if (e.event === 'start') {
      if (!bar) bars.set(e.task, (bar = new ProgressBar({ total: e.total, label: e.task, stream })));
      bar.start(e.done, e.total);
    } else if (e.event === 'update') {
      bar?.update(e.done);
    } else {
      bar?.finish(e.note);
      bars.delete(e.task);
    }
  };
}
