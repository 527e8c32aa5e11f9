/** The StableReinforce reward: R = Result * (1 + 0.5 * Consistency) + 0.5 * Format. */
import { formatReward } from './format';
import type { Consistency, ConsistencyJudge } from './judge';
import { normalizeLabel } from './result';
import { extractAnalysis, parseVerdict, type ParsedVerdict, type Verdict } from './verdict';

export interface RewardParts {
  result: number;
  consistency: number;
  format: number;
}

export interface RewardWeights {
  /** Weight of Consistency inside the Result factor (default 0.5). */
  consistency: number;
  /** Weight of Format (default 0.5). */
  format: number;
}

export const DEFAULT_REWARD_WEIGHTS: Readonly<RewardWeights> = Object.freeze({ consistency: 0.5, format: 0.5 });

function part(value: unknown, name: string, allowed: readonly number[]): number {
  if (typeof value !== 'number' || !allowed.includes(value)) {
    throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value;
}

export function combineReward(parts: RewardParts, weights: RewardWeights = DEFAULT_REWARD_WEIGHTS): number {
  if (parts === null || typeof parts !== 'object') throw new TypeError('parts must be an object { result, consistency, format }');
  const result = part(parts.result, 'parts.result', [0, 1]);
  const consistency = part(parts.consistency, 'parts.consistency', [-1, 0, 1]);
  const format = part(parts.format, 'parts.format', [0, 1]);
  for (const k of ['consistency', 'format'] as const) {
    if (typeof weights?.[k] !== 'number' || !Number.isFinite(weights[k])) {
      throw new TypeError(`weights.${k} must be a finite number, got ${String(weights?.[k])}`);
    }
  }
  return result * (1 + weights.consistency * consistency) + weights.format * format;
}

/** Counters shared by every computeReward call that receives the same object (per server, per trainer run). */
export interface RewardStats {
  /** computeReward calls. */
  total: number;
  /** Judge calls made. */
  judged: number;
  /** Outputs not sent to the judge (no strict verdict, or result 0 while `judgeAll` is off). */
  notJudged: number;
  consistent: number;
  inconsistent: number;
  /** The judge answered 0 (no usable verdict). */
  undecided: number;
  /** The judge threw; consistency was set to 0. */
  judgeFailures: number;
  lastJudgeError?: string;
}

export function createRewardStats(): RewardStats {
  return { total: 0, judged: 0, notJudged: 0, consistent: 0, inconsistent: 0, undecided: 0, judgeFailures: 0 };
}

export interface RewardBreakdown extends RewardParts {
  reward: number;
  /** The strict verdict (one `<answer>` block), or null. */
  verdict: Verdict | null;
  parse: ParsedVerdict;
  label: Verdict;
  judged: boolean;
  judgeError?: string;
}

export interface ComputeRewardOptions {
  weights?: RewardWeights;
  stats?: RewardStats;
  /**
   * Ask the judge even when Result is 0 (default false: the reward does not depend on Consistency then,
   * so the call is skipped and consistency is reported as 0).
   */
  judgeAll?: boolean;
  signal?: AbortSignal;
}

/**
 * All reward parts of one output. Never throws for a bad output or a failing judge: a judge error gives
 * consistency 0 (no bonus, no penalty) and is counted in `stats`. Throws only for a bad `label` or judge argument.
 */
export async function computeReward(output: string, label: unknown, judge: ConsistencyJudge, options: ComputeRewardOptions = {}): Promise<RewardBreakdown> {
  if (typeof output !== 'string') throw new TypeError(`output must be a string, got ${typeof output}`);
  const want = normalizeLabel(label);
  if (!judge || typeof judge.judge !== 'function') throw new TypeError('judge must be a ConsistencyJudge');
  const stats = options.stats;
  if (stats) stats.total++;
  const format = formatReward(output);
  const parse = parseVerdict(output, { fallback: false });
  const verdict = parse.ok ? parse.verdict : null;
  const result = verdict === want ? 1 : 0;
  let consistency: Consistency = 0;
  let judged = false;
  let judgeError: string | undefined;
  if (verdict !== null && (result === 1 || options.judgeAll)) {
    judged = true;
    if (stats) stats.judged++;
    try {
      const c = await judge.judge({ analysis: extractAnalysis(output), verdict }, { signal: options.signal });
      if (c !== 1 && c !== -1 && c !== 0) throw new Error(`judge returned ${String(c)}, expected 1, -1 or 0`);
      consistency = c;
      if (stats) {
        if (c === 1) stats.consistent++;
        else if (c === -1) stats.inconsistent++;
        else stats.undecided++;
      }
    } catch (error) {
      judgeError = error instanceof Error ? error.message : String(error);
      consistency = 0;
      if (stats) {
        stats.judgeFailures++;
        stats.lastJudgeError = judgeError;
      }
    }
  } else if (stats) stats.notJudged++;
  const weights = options.weights ?? DEFAULT_REWARD_WEIGHTS;
  const reward = combineReward({ result, consistency, format }, weights);
  return { reward, result, consistency, format, verdict, parse, label: want, judged, ...(judgeError ? { judgeError } : {}) };
}

/** computeReward over a batch (a trainer's rollouts); labels[i] belongs to outputs[i]. */
export async function computeRewards(
  outputs: readonly string[],
  labels: readonly unknown[],
  judge: ConsistencyJudge,
  options: ComputeRewardOptions = {},
): Promise<RewardBreakdown[]> {
  if (!Array.isArray(outputs)) throw new TypeError('outputs must be an array of strings');
  if (!Array.isArray(labels)) throw new TypeError('labels must be an array');
  if (labels.length !== outputs.length) throw new RangeError(`labels must have as many items as outputs (${outputs.length}), got ${labels.length}`);
  outputs.forEach((o, i) => {
    if (typeof o !== 'string') throw new TypeError(`outputs[${i}] must be a string, got ${typeof o}`);
  });
  const wanted = labels.map((l, i) => normalizeLabel(l, `labels[${i}]`));
  return Promise.all(outputs.map((o, i) => computeReward(o, wanted[i], judge, options)));
}
