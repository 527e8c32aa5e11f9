/**
 * `runEval`: the library behind `stable-reinforce eval`. Loads a benchmark, asks a PairJudge for K samples of
 * every pair (and, with `swap`, of every pair with the responses exchanged), appends each sample to
 * DIR/predictions.jsonl as it arrives, and writes DIR/summary.json and DIR/report.html at the end.
 * A rerun with the same DIR skips what is done.
 */
import { createHash } from 'crypto';
import { setMaxListeners } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { topPOption } from '../internal/validate';
import type { Verdict } from '../rewards/verdict';
import { parseVerdict } from '../rewards/verdict';
import { loadBenchmark } from './loaders';
import { accuracyReport, type Evaluation, type Order } from './metrics';
import { PredictionWriter, readPredictions, taskId, type PredictionRecord } from './predictions';
import { R1_REWARD_PROMPT_TEMPLATE } from './prompt';
import { renderReport } from './report';
import type { EvalSummary } from './summary';
import type { BenchName, EvalPair, JudgePair, PairJudge } from './types';

export interface EvalRunOptions {
  bench: BenchName;
  /** The benchmark file (JSONL or JSON array). */
  data: string;
  /** Folder that media paths in the file are relative to (default: the file's folder). */
  images?: string;
  judge: PairJudge;
  /** Model label recorded in run.json and the summary (e.g. the served model name or DIR). */
  model: string;
  /** K samples per pair and order (default 1). */
  samples?: number;
  /** Default: 0 (greedy) for K = 1, 1.0 for K > 1 (the paper's Voting@K setting). */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1] (default 1: the full softmax, the paper's setting). */
  topP?: number;
  /** Also evaluate every pair with the responses exchanged. */
  swap?: boolean;
  /** Pairs judged at once (default 8). */
  concurrency?: number;
  /** Output folder. */
  out: string;
  limit?: number;
  skipMissing?: boolean;
  order?: 'balanced' | 'chosen-first';
  onProgress?: (p: EvalProgress) => void;
  signal?: AbortSignal;
}

export interface EvalProgress {
  /** Pair-order tasks finished, including those found done in predictions.jsonl. */
  done: number;
  total: number;
  /** Tasks found done when the run started. */
  resumed: number;
}

export interface EvalResult {
  summary: EvalSummary;
  files: { predictions: string; summary: string; report: string; run: string };
}

/** Settings that must match for a folder's predictions to be reused. */
interface RunIdentity {
  bench: BenchName;
  data: string;
  model: string;
  temperature: number;
  topP: number;
  order: string;
  prompt: string;
}

/** What a run.json from before a setting existed holds for it. */
const IDENTITY_DEFAULTS: Partial<RunIdentity> = { topP: 1 };

export class ResumeMismatchError extends Error {}

export function swapPair(pair: EvalPair): EvalPair {
  return { ...pair, response1: pair.response2, response2: pair.response1, label: (3 - pair.label) as Verdict };
}

function checkPositiveInt(v: unknown, name: string): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
}

export async function runEval(options: EvalRunOptions): Promise<EvalResult> {
  const started = Date.now();
  checkPositiveInt(options.samples, 'samples');
  checkPositiveInt(options.concurrency, 'concurrency');
  if (!options.judge || typeof options.judge.judge !== 'function') throw new TypeError('judge must be a PairJudge');
  if (typeof options.out !== 'string' || options.out === '') throw new TypeError('out must be a folder path');
  const K = options.samples ?? 1;
  const temperature = options.temperature ?? (K === 1 ? 0 : 1);
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be a finite number >= 0, got ${String(temperature)}`);
  }
  const topP = topPOption(options.topP, 'topP');
  const order = options.order ?? 'balanced';
  const loaded = loadBenchmark(options.bench, options.data, {
    images: options.images,
    skipMissing: options.skipMissing,
    limit: options.limit,
    order,
  });
  if (loaded.pairs.length === 0) throw new Error(`no pairs to evaluate in ${options.data}`);

  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const files = {
    predictions: path.join(out, 'predictions.jsonl'),
    summary: path.join(out, 'summary.json'),
    report: path.join(out, 'report.html'),
    run: path.join(out, 'run.json'),
  };
  const identity: RunIdentity = {
    bench: options.bench,
    data: path.resolve(options.data),
    model: options.model,
    temperature,
    topP,
    order,
    prompt: createHash('sha256').update(R1_REWARD_PROMPT_TEMPLATE).digest('hex').slice(0, 16),
  };
  if (fs.existsSync(files.run)) {
    const prev = JSON.parse(fs.readFileSync(files.run, 'utf8')) as Partial<RunIdentity>;
    for (const k of Object.keys(identity) as Array<keyof RunIdentity>) {
      const was = prev[k] ?? IDENTITY_DEFAULTS[k];
      if (was !== identity[k]) {
        throw new ResumeMismatchError(
          `${out} holds predictions of a different run (${k}: ${JSON.stringify(was)} there, ${JSON.stringify(identity[k])} now); ` +
            'use another --out folder or delete that one',
        );
      }
    }
  } else fs.writeFileSync(files.run, JSON.stringify(identity, null, 2) + '\n');

  const { byTask } = readPredictions(files.predictions);
  const orders: Order[] = options.swap ? ['original', 'swapped'] : ['original'];
  const tasks: Array<{ pair: EvalPair; order: Order; missing: number[] }> = [];
  let resumed = 0;
  for (const pair of loaded.pairs) {
    for (const o of orders) {
      const have = byTask.get(taskId(pair.key, o));
      const missing: number[] = [];
      for (let s = 0; s < K; s++) if (!have?.has(s)) missing.push(s);
      if (missing.length === 0) resumed++;
      else tasks.push({ pair, order: o, missing });
    }
  }
  const total = loaded.pairs.length * orders.length;
  let done = resumed;
  options.onProgress?.({ done, total, resumed });

  // Each request in flight listens on the signal (the openai client adds one listener per request).
  if (options.signal) setMaxListeners(Math.max(10, 4 * (options.concurrency ?? 8) + 16), options.signal);
  const writer = new PredictionWriter(files.predictions);
  let failure: unknown;
  let next = 0;
  const worker = async () => {
    while (failure === undefined && next < tasks.length) {
      if (options.signal?.aborted) {
        failure = options.signal.reason ?? new Error('aborted');
        break;
      }
      const t = tasks[next++];
      const shown: EvalPair = t.order === 'swapped' ? swapPair(t.pair) : t.pair;
      const judgePair: JudgePair = { question: shown.question, response1: shown.response1, response2: shown.response2, media: shown.media };
      const t0 = Date.now();
      let outputs: string[];
      try {
        outputs = await options.judge.judge(judgePair, { samples: t.missing.length, temperature, topP, signal: options.signal });
      } catch (error) {
        failure ??= error;
        break;
      }
      const ms = Date.now() - t0;
      const records: PredictionRecord[] = t.missing.map((sample, i) => {
        const output = typeof outputs[i] === 'string' ? outputs[i] : '';
        const p = parseVerdict(output);
        return {
          key: shown.key,
          id: shown.id,
          category: shown.category,
          order: t.order,
          sample,
          label: shown.label,
          verdict: p.verdict,
          correct: p.verdict === shown.label,
          parse: p.ok ? p.source : p.failure,
          output,
          ms,
          ...(shown.difficulty !== undefined ? { difficulty: shown.difficulty } : {}),
        };
      });
      await writer.append(records);
      let m = byTask.get(taskId(shown.key, t.order));
      if (!m) byTask.set(taskId(shown.key, t.order), (m = new Map()));
      for (const r of records) m.set(r.sample, r);
      done++;
      options.onProgress?.({ done, total, resumed });
    }
  };
  const poolSize = Math.min(options.concurrency ?? 8, Math.max(1, tasks.length));
  await Promise.all(Array.from({ length: poolSize }, worker));
  await writer.close();
  if (failure !== undefined) {
    const msg = failure instanceof Error ? failure.message : String(failure);
    throw new Error(`evaluation stopped: ${msg}. ${done} of ${total} done are saved in ${files.predictions}; rerun the same command to resume`, {
      cause: failure,
    });
  }

  const evals: Evaluation[] = [];
  const failuresByReason: Record<string, number> = {};
  const examples: EvalSummary['parseFailures']['examples'] = [];
  let failed = 0;
  let fallbacks = 0;
  let sampleCount = 0;
  for (const pair of loaded.pairs) {
    for (const o of orders) {
      const m = byTask.get(taskId(pair.key, o))!;
      const verdicts: Array<Verdict | null> = [];
      for (let s = 0; s < K; s++) {
        const r = m.get(s)!;
        sampleCount++;
        verdicts.push(r.verdict);
        if (r.parse === 'fallback') fallbacks++;
        if (r.verdict === null) {
          failed++;
          failuresByReason[r.parse] = (failuresByReason[r.parse] ?? 0) + 1;
          if (examples.length < 10) examples.push({ key: r.key, order: o, sample: s, reason: r.parse, output: r.output.slice(0, 300) });
        }
      }
      const label = (o === 'swapped' ? 3 - pair.label : pair.label) as Verdict;
      evals.push({ key: pair.key, id: pair.id, category: pair.category, order: o, label, verdicts, difficulty: pair.difficulty });
    }
  }
  const report = accuracyReport(evals, K, { accPlus: options.bench === 'mm-rlhf-rewardbench' });
  const warnings: string[] = [];
  if (options.bench === 'vl-rewardbench' && loaded.pairs.length === 1250) {
    const n = (c: string) => loaded.pairs.filter((p) => p.category === c).length;
    const got = { general: n('general'), hallucination: n('hallucination'), reasoning: n('reasoning') };
    if (got.general !== 183 || got.hallucination !== 749 || got.reasoning !== 318) {
      warnings.push(`VL-RewardBench categories ${JSON.stringify(got)} differ from the official split general 183, hallucination 749, reasoning 318`);
    }
  }
  if (loaded.skipped.length > 0) warnings.push(`${loaded.skipped.length} row(s) skipped (see skipped.rows)`);
  const summary: EvalSummary = {
    bench: options.bench,
    data: identity.data,
    model: options.model,
    judge: options.judge.name,
    samples: K,
    temperature,
    topP,
    swap: Boolean(options.swap),
    order,
    pairs: loaded.pairs.length,
    skipped: { count: loaded.skipped.length, rows: loaded.skipped },
    ...report,
    parseFailures: { count: failed, rate: sampleCount === 0 ? 0 : failed / sampleCount, byReason: failuresByReason, examples },
    parseFallbacks: fallbacks,
    resumedTasks: resumed,
    warnings,
    elapsedSec: (Date.now() - started) / 1000,
    createdAt: new Date().toISOString(),
  };
  fs.writeFileSync(files.summary, JSON.stringify(summary, null, 2) + '\n');
  fs.writeFileSync(files.report, renderReport(summary));
  return { summary, files };
}
