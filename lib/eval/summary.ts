/** DIR/summary.json of an evaluation run: what runEval returns and writes, and what report.html shows. */
import type { SkippedRow } from './loaders';
import type { AccuracyReport, Order } from './metrics';
import type { BenchName } from './types';

export interface EvalSummary extends AccuracyReport {
  bench: BenchName;
  data: string;
  model: string;
  judge: string;
  samples: number;
  temperature: number;
  /** Nucleus sampling mass (1: the full softmax; summaries written before it existed lack it). */
  topP?: number;
  swap: boolean;
  order: 'balanced' | 'chosen-first';
  pairs: number;
  skipped: { count: number; rows: SkippedRow[] };
  parseFailures: {
    /** Unparsable samples, all counted as wrong. */
    count: number;
    rate: number;
    byReason: Record<string, number>;
    examples: Array<{ key: string; order: Order; sample: number; reason: string; output: string }>;
  };
  /** Samples whose verdict came from the documented fallback rule rather than an <answer> block. */
  parseFallbacks: number;
  /** Tasks taken from an earlier run in the same folder. */
  resumedTasks: number;
  /** Things worth a look (e.g. category counts that differ from a benchmark's official split). */
  warnings: string[];
  elapsedSec: number;
  createdAt: string;
}
