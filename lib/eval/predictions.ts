/** DIR/predictions.jsonl: one line per pair, order and sample; the record that makes a run resumable. */
import * as fs from 'fs';
import type { Verdict } from '../rewards/verdict';
import type { Order } from './metrics';

export interface PredictionRecord {
  key: string;
  id: string;
  category: string;
  order: Order;
  sample: number;
  /** Which response is right in this order. */
  label: Verdict;
  verdict: Verdict | null;
  correct: boolean;
  /** 'answer' | 'fallback', or the parse failure ('no-answer', 'invalid-answer', ...). */
  parse: string;
  output: string;
  /** Wall time of the request that produced this sample (shared by the samples of one request). */
  ms: number;
  difficulty?: number;
}

export function taskId(key: string, order: Order): string {
  return `${order}\u0000${key}`;
}

export interface ReadPredictions {
  /** taskId -> sample -> record. */
  byTask: Map<string, Map<number, PredictionRecord>>;
  /** Lines that could not be read (a line cut by an interruption is repaired, not counted). */
  badLines: number;
}

/**
 * Reads predictions and repairs a line cut short by an interruption (the file is truncated after the last
 * newline), so appending continues on a clean line.
 */
export function readPredictions(file: string): ReadPredictions {
  const byTask = new Map<string, Map<number, PredictionRecord>>();
  let badLines = 0;
  if (!fs.existsSync(file)) return { byTask, badLines };
  let text = fs.readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) {
    const cut = text.lastIndexOf('\n') + 1;
    fs.truncateSync(file, Buffer.byteLength(text.slice(0, cut), 'utf8'));
    text = text.slice(0, cut);
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let r: PredictionRecord;
    try {
      r = JSON.parse(line);
    } catch {
      badLines++;
      continue;
    }
    if (typeof r?.key !== 'string' || (r.order !== 'original' && r.order !== 'swapped') || !Number.isInteger(r.sample)) {
      badLines++;
      continue;
    }
    const t = taskId(r.key, r.order);
    let m = byTask.get(t);
    if (!m) byTask.set(t, (m = new Map()));
    m.set(r.sample, r);
  }
  return { byTask, badLines };
}

/** Appends lines one batch at a time (batches never interleave). */
export class PredictionWriter {
  private chain: Promise<void> = Promise.resolve();
  private fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  append(records: PredictionRecord[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r) + '\n').join('');
    const next = this.chain.then(
      () =>
        new Promise<void>((ok, fail) => {
          fs.appendFile(this.fd, text, 'utf8', (err) => (err ? fail(err) : ok()));
        }),
    );
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    fs.closeSync(this.fd);
  }
}
