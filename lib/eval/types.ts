/** Shared shapes of the evaluator and the reward service. */
import type { PreferenceRow } from '../data/io';
import type { Verdict } from '../rewards/verdict';

export type BenchName = 'vl-rewardbench' | 'mm-rlhf-rewardbench' | 'multimodal-rewardbench' | 'synthetic';
export const BENCH_NAMES: readonly BenchName[] = ['vl-rewardbench', 'mm-rlhf-rewardbench', 'multimodal-rewardbench', 'synthetic'];

/**
 * An image or video for the judge: a local file (`path`, absolute once loaded), or a `data:`/`http(s):`
 * URL passed through as is.
 */
export interface MediaRef {
  kind: 'image' | 'video';
  path?: string;
  url?: string;
}

/** What a PairJudge sees: one question, two responses shown as Response 1 and Response 2. */
export interface JudgePair {
  question: string;
  response1: string;
  response2: string;
  media?: MediaRef | null;
}

export interface JudgeOptions {
  /** Completions to sample (K). */
  samples: number;
  temperature: number;
  signal?: AbortSignal;
}

/**
 * A reward model that judges a pair: returns `samples` raw outputs (`<think>...</think><answer>N</answer>`),
 * in order. Used by `eval` and by the service's /score. Implementations: EndpointPairJudge (an
 * OpenAI-compatible server) and, once the built-in model exists, one registered with
 * registerBuiltinPairJudge. Throw only for infrastructure failures (unreachable, out of memory); a model
 * that writes nonsense returns the nonsense, which the caller counts as a parse failure.
 */
export interface PairJudge {
  readonly name: string;
  judge(pair: JudgePair, options: JudgeOptions): Promise<string[]>;
  close?(): Promise<void>;
}

/** One benchmark pair, in its original order (label = which of response1/response2 is preferred). */
export interface EvalPair extends JudgePair {
  /** Unique within the run: the benchmark id, with "#n" added for the n-th repeat of an id. */
  key: string;
  /** The benchmark id (rows sharing an id form an Acc+ group). */
  id: string;
  category: string;
  label: Verdict;
  /** 1-based line (JSONL) or index (JSON array) in the data file, for messages. */
  row: number;
  difficulty?: number;
}

/**
 * The synthetic benchmark row (one JSON object per line), shared with the data generator (lib/data):
 * `image` is a path relative to --images (or the data file's folder), or a data: URL.
 */
export type SyntheticRow = Pick<PreferenceRow, 'id' | 'image' | 'question' | 'response1' | 'response2' | 'label' | 'difficulty' | 'category'>;
