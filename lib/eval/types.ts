/** Shared shapes of the evaluator and the reward service. */
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
  /** Nucleus sampling: draw from the smallest set of tokens holding this much probability, in (0, 1]; 1 or absent = the full softmax. */
  topP?: number;
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

/** Options of a local model judging pairs (`eval --model DIR`; lib/eval/builtin.ts). */
export interface BuiltinJudgeOptions {
  /** 'auto' | 'cpu' | 'cuda' as the rest of the library understands it. */
  device?: string;
  /** Upper bound on generated tokens. */
  maxTokens?: number;
}

export type BuiltinPairJudgeFactory = (modelDir: string, options: BuiltinJudgeOptions) => Promise<PairJudge>;

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
 * A preference pair as the `synthetic` benchmark file stores it (one JSON object per line); lib/data's
 * PreferenceRow extends it with what training needs. `image` is a path relative to --images (or the data
 * file's folder), or a data: URL; `label` is the better response.
 */
export interface SyntheticRow {
  id: string;
  image: string;
  question: string;
  response1: string;
  response2: string;
  label: 1 | 2;
  difficulty?: number;
  category?: string;
}
