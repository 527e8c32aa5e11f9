/**
 * The reward service's request handling without HTTP: OpenRLHF's remote reward protocol (`getRewards`) and
 * pair scoring (`scorePair`). Node tools can call these directly.
 */
import * as fs from 'fs';
import * as path from 'path';
import { shown, stringArg } from '../internal/validate';
import { computeReward, DEFAULT_REWARD_WEIGHTS, type RewardStats, type RewardWeights } from '../rewards/combine';
import type { ConsistencyJudge } from '../rewards/judge';
import { normalizeLabel } from '../rewards/result';
import { extractAnalysis, parseVerdict, type Verdict } from '../rewards/verdict';
import { majorityVote } from '../eval/metrics';
import type { JudgePair, MediaRef, PairJudge } from '../eval/types';
import type { LabelIndex } from './labels';

/** A request problem: `status` is the HTTP status the service answers with. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const bad = (message: string) => new RequestError(400, message);

/** Tokens a decoded sequence may end with (Qwen, Llama, Mistral, Gemma, DeepSeek...); stripped from responses. */
export const END_TOKENS = [
  '<|im_end|>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<|eot_id|>',
  '<|end|>',
  '</s>',
  '<eos>',
  '<|eos|>',
  '<pad>',
  '[PAD]',
  '<|end\u2581of\u2581sentence|>',
];

const ASSISTANT_MARKERS = ['<|im_start|>assistant', '<|start_header_id|>assistant<|end_header_id|>', '<|assistant|>'];

/**
 * The response inside an OpenRLHF query: the text after its prompt (or, without a usable prompt, after the
 * last assistant marker of a known chat template), with end tokens and surrounding whitespace removed.
 */
export function extractResponse(query: string, prompt?: string | null): string {
  stringArg(query, 'query');
  if (prompt !== undefined && prompt !== null) stringArg(prompt, 'prompt');
  let r = query;
  const at = prompt ? query.indexOf(prompt) : -1;
  if (prompt && at !== -1) r = query.slice(at + prompt.length);
  else {
    let best = -1;
    let len = 0;
    for (const m of ASSISTANT_MARKERS) {
      const i = query.lastIndexOf(m);
      if (i > best) {
        best = i;
        len = m.length;
      }
    }
    if (best !== -1) r = query.slice(best + len);
  }
  for (let changed = true; changed;) {
    changed = false;
    r = r.trim();
    for (const t of END_TOKENS) {
      if (r.endsWith(t)) {
        r = r.slice(0, -t.length);
        changed = true;
      }
    }
  }
  return r;
}

function stringArray(v: unknown, name: string, length?: number): string[] {
  if (!Array.isArray(v)) throw bad(`${name} must be an array of strings`);
  if (length !== undefined && v.length !== length) throw bad(`${name} must have as many items as query (${length}), got ${v.length}`);
  v.forEach((x, i) => {
    if (typeof x !== 'string') throw bad(`${name}[${i}] must be a string, got ${x === null ? 'null' : typeof x}`);
  });
  return v as string[];
}

export interface RewardContext {
  judge: ConsistencyJudge;
  labels?: LabelIndex | null;
  weights?: RewardWeights;
  stats?: RewardStats;
  judgeAll?: boolean;
  /** Most items in one request (default 16384). */
  maxItems?: number;
}

export interface RewardDetail {
  format: number;
  result: number;
  consistency: number;
  verdict: Verdict | null;
  label: Verdict;
}

export interface GetRewardResponse {
  rewards: number[];
  /** The same numbers under the key older OpenRLHF versions read. */
  score: number[];
  details?: RewardDetail[];
}

/**
 * POST /get_reward: `{ query: string[], prompts?: string[], labels?: (string | number | null)[] }`.
 * Labels come from the request ("1", "2", 1, 2, "<answer>2</answer>") or, when absent or null, from the
 * dataset matched by prompt. Everything is validated before any reward is computed.
 */
export async function getRewards(body: unknown, ctx: RewardContext, options: { details?: boolean } = {}): Promise<GetRewardResponse> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('body must be a JSON object { query, prompts?, labels? }');
  const b = body as Record<string, unknown>;
  if (b.query === undefined) throw bad('query is required (an array of prompt+response strings)');
  const query = stringArray(b.query, 'query');
  const max = ctx.maxItems ?? 16384;
  if (query.length > max) throw new RequestError(413, `query has ${query.length} items; at most ${max} per request`);
  const prompts = b.prompts === undefined || b.prompts === null ? undefined : stringArray(b.prompts, 'prompts', query.length);
  let rawLabels: unknown[] | undefined;
  if (b.labels !== undefined && b.labels !== null) {
    if (!Array.isArray(b.labels)) throw bad('labels must be an array');
    if (b.labels.length !== query.length) throw bad(`labels must have as many items as query (${query.length}), got ${b.labels.length}`);
    rawLabels = b.labels;
  }
  const labels: Verdict[] = query.map((q, i) => {
    const given = rawLabels?.[i];
    if (given !== undefined && given !== null && given !== '') {
      try {
        return normalizeLabel(given, `labels[${i}]`);
      } catch (error) {
        throw bad((error as Error).message);
      }
    }
    const found = ctx.labels?.lookup(prompts?.[i] ?? q) ?? null;
    if (found === null) {
      throw bad(
        ctx.labels
          ? `labels[${i}]: no label in the request and no row of the dataset matches ${prompts ? `prompts[${i}]` : `query[${i}]`}`
          : `labels[${i}]: no label in the request (send labels, or start the service with --data FILE)`,
      );
    }
    return found;
  });
  const parts = await Promise.all(
    query.map((q, i) =>
      computeReward(extractResponse(q, prompts?.[i]), labels[i], ctx.judge, {
        weights: ctx.weights ?? DEFAULT_REWARD_WEIGHTS,
        stats: ctx.stats,
        judgeAll: ctx.judgeAll,
      }),
    ),
  );
  const rewards = parts.map((p) => p.reward);
  const out: GetRewardResponse = { rewards, score: rewards };
  if (options.details) {
    out.details = parts.map((p) => ({ format: p.format, result: p.result, consistency: p.consistency, verdict: p.verdict, label: p.label }));
  }
  return out;
}

export interface ScoreRequest {
  question: string;
  response1: string;
  response2: string;
  /** data: or http(s): URL, or a path inside the service's images folder. */
  image?: string;
  video?: string;
  samples?: number;
  temperature?: number;
  /** Nucleus sampling mass in (0, 1], default 1 (the full softmax). */
  topP?: number;
}

export interface ScoreResponse {
  /** Majority over the samples (ties: earliest parsed sample), null when none parsed. */
  verdict: Verdict | null;
  votes: { '1': number; '2': number; failed: number };
  samples: Array<{ verdict: Verdict | null; parse: string; analysis: string; output: string }>;
  judge: string;
}

export interface ScoreContext {
  pairJudge?: PairJudge | null;
  /** Folder that /score image paths may point into; without it only URLs are accepted. */
  imagesDir?: string;
  /** Most samples per request (default 32). */
  maxSamples?: number;
}

/** The path of an image inside the images folder, checked on the real paths: a symbolic link may not lead out. */
async function mediaFrom(value: unknown, name: 'image' | 'video', imagesDir?: string): Promise<MediaRef> {
  if (typeof value !== 'string' || value === '') throw bad(`${name} must be a non-empty string (a data: URL, an http(s) URL or a path)`);
  const kind = name;
  if (/^(data|https?):/i.test(value)) return { kind, url: value };
  if (!imagesDir) throw bad(`${name}: file paths are accepted only when the service runs with --images DIR; send a data: URL instead`);
  let root: string;
  try {
    root = await fs.promises.realpath(path.resolve(imagesDir));
  } catch {
    throw new RequestError(503, `${name}: the service's images folder is not available`);
  }
  const inside = (p: string) => p === root || p.startsWith(root + path.sep);
  if (!inside(path.resolve(root, value))) throw bad(`${name}: path leaves the images folder`);
  let real: string;
  try {
    real = await fs.promises.realpath(path.resolve(root, value));
  } catch {
    throw bad(`${name}: file not found: ${value}`);
  }
  if (!inside(real)) throw bad(`${name}: path leaves the images folder (through a symbolic link)`);
  // A regular file only: a FIFO or a device would block or never end.
  if (!(await fs.promises.stat(real)).isFile()) throw bad(`${name}: not a regular file: ${value}`);
  return { kind, path: real };
}

/** `message` with the images folder's absolute path taken out (the client named files relative to it). */
function withoutServerPaths(message: string, imagesDir: string | undefined): string {
  if (!imagesDir) return message;
  let out = message;
  const roots = [path.resolve(imagesDir)];
  try {
    roots.push(fs.realpathSync(roots[0]));
  } catch {
    /* gone */
  }
  for (const r of roots.sort((a, b) => b.length - a.length))
    out = out
      .split(r + path.sep)
      .join('')
      .split(r)
      .join('.');
  return out;
}

/** POST /score: validates, asks the PairJudge for K samples, votes. */
export async function scorePair(body: unknown, ctx: ScoreContext): Promise<ScoreResponse> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw bad('body must be a JSON object { question, response1, response2, image?, samples?, temperature?, topP? }');
  const b = body as Record<string, unknown>;
  for (const k of ['question', 'response1', 'response2'] as const) {
    if (typeof b[k] !== 'string') throw bad(`${k} must be a string${b[k] === undefined ? ' (missing)' : ''}`);
  }
  const maxSamples = ctx.maxSamples ?? 32;
  const samples = b.samples ?? 1;
  if (!Number.isInteger(samples) || (samples as number) < 1 || (samples as number) > maxSamples) {
    throw bad(`samples must be an integer from 1 to ${maxSamples}, got ${shown(samples)}`);
  }
  const K = samples as number;
  const temperature = b.temperature ?? (K > 1 ? 1 : 0);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
    throw bad(`temperature must be a number from 0 to 2, got ${shown(b.temperature)}`);
  }
  const topP = b.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw bad(`topP must be a number in (0, 1], got ${shown(b.topP)}`);
  if (b.image !== undefined && b.video !== undefined) throw bad('send either image or video, not both');
  const media =
    b.image !== undefined ? await mediaFrom(b.image, 'image', ctx.imagesDir) : b.video !== undefined ? await mediaFrom(b.video, 'video', ctx.imagesDir) : null;
  if (!ctx.pairJudge) {
    throw new RequestError(503, 'no reward model configured for /score: start the service with --endpoint URL --model NAME');
  }
  const pair: JudgePair = { question: b.question as string, response1: b.response1 as string, response2: b.response2 as string, media };
  let outputs: string[];
  try {
    outputs = await ctx.pairJudge.judge(pair, { samples: K, temperature, topP });
  } catch (error) {
    throw new RequestError(502, `the reward model failed: ${withoutServerPaths((error as Error).message, ctx.imagesDir)}`);
  }
  const parsed = outputs.map((o) => ({ o, p: parseVerdict(o) }));
  const verdicts = parsed.map(({ p }) => p.verdict);
  return {
    verdict: majorityVote(verdicts),
    votes: {
      '1': verdicts.filter((v) => v === 1).length,
      '2': verdicts.filter((v) => v === 2).length,
      failed: verdicts.filter((v) => v === null).length,
    },
    samples: parsed.map(({ o, p }) => ({ verdict: p.verdict, parse: p.ok ? p.source : p.failure, analysis: extractAnalysis(o), output: o })),
    judge: ctx.pairJudge.name,
  };
}
