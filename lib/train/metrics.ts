/**
 * metrics.jsonl: one JSON line per training step, appended as the step ends.
 * The writer tracks the file's length so that a checkpoint can record it and a
 * resume can cut the file back to it (steps redone after the checkpoint are
 * then logged once, and none is missing).
 */
import * as fs from 'fs';

export interface StepLine {
  stage: 'sft' | 'rl';
  /** 1-based step within the stage. */
  step: number;
  /** 1-based step over the whole run (SFT steps, then RL steps). */
  globalStep: number;
  [key: string]: unknown;
}

export class MetricsLog {
  private fd: number;
  bytes: number;
  lines: number;

  /** Opens `file` for appending after cutting it to `bytes` (0: a new file). */
  constructor(
    readonly file: string,
    bytes: number,
    lines: number,
  ) {
    if (bytes === 0) fs.writeFileSync(file, '');
    else {
      const size = fs.statSync(file).size;
      if (size < bytes) throw new Error(`${file} has ${size} bytes, fewer than the ${bytes} recorded in the checkpoint`);
      if (size > bytes) fs.truncateSync(file, bytes);
    }
    this.fd = fs.openSync(file, 'a');
    this.bytes = bytes;
    this.lines = lines;
  }

  append(line: StepLine): void {
    const text = JSON.stringify(line) + '\n';
    fs.writeSync(this.fd, text);
    this.bytes += Buffer.byteLength(text);
    this.lines++;
  }

  /** Flushes to disk (before a checkpoint records the length). */
  sync(): void {
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads metrics.jsonl; a torn last line (a crash mid-write) is ignored. */
export function readMetrics(file: string): StepLine[] {
  if (!fs.existsSync(file)) return [];
  const out: StepLine[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.push(JSON.parse(l));
    } catch (e) {
      if (i < lines.length - 1) throw new SyntaxError(`${file} line ${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  });
  return out;
}
