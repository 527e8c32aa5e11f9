/**
 * The paper's consistency judge: a text-only chat model behind an OpenAI-compatible API (the authors used
 * Qwen2.5-VL-7B-Instruct) reads the last 3 lines of the analysis and the answer rephrased as "Response N is
 * better", and outputs 1 (same meaning) or 0 (ambiguous, opposite, or approving both) -> +1 / -1.
 */
import { createHash } from 'crypto';
import type OpenAI from 'openai';
import { Limiter, LruCache, linkedSignal } from './async';
import type { Consistency, ConsistencyInput, ConsistencyJudge } from './judge';
import { lastLines } from './judge';
import { callWithRetries, EmptyResponseError, makeClient, normalizeBaseURL, type EndpointOptions, type EndpointStats } from './openai-compat';

/** The judge prompt (our wording of the paper's instructions). */
export function consistencyJudgePrompt(conclusion: string, verdict: 1 | 2): string {
  return [
    'You check whether the conclusion of an evaluation agrees with its final decision.',
    '',
    'An evaluator compared two responses (Response 1 and Response 2). These are the last lines of its analysis:',
    '"""',
    conclusion,
    '"""',
    '',
    `Its final decision: Response ${verdict} is better.`,
    '',
    `Does the analysis conclude that Response ${verdict} is better?`,
    `- Output 1 if the conclusion clearly means the same as "Response ${verdict} is better".`,
    '- Output 0 if the conclusion is ambiguous, favours the other response, or approves both responses.',
    'Output only the single digit 1 or 0.',
  ].join('\n');
}

/** 1 -> +1, 0 -> -1; anything else is not a usable answer (null). */
export function parseJudgeReply(reply: string): Consistency | null {
  // Every standalone 0/1 must agree ("1 or 0" is not an answer).
  const digits = reply.match(/(?<![\d.])[01](?![\d.]\d|\d)/g);
  if (digits && new Set(digits).size === 1) return digits[0] === '1' ? 1 : -1;
  return null;
}

export interface OpenAIJudgeOptions extends EndpointOptions {
  /** Sampling temperature (default 0.1, as the authors). */
  temperature?: number;
  /** Lines of the analysis shown (default 3). */
  lines?: number;
  /** Cached verdicts, keyed by a hash of model + prompt (default 10000; 0 disables). */
  cacheSize?: number;
  /** Inject a client (tests); default: the `openai` package pointed at `baseURL`. */
  client?: OpenAI;
}

export interface OpenAIJudgeStats extends EndpointStats {
  cacheHits: number;
  /** Replies that were neither 1 nor 0. */
  unparsable: number;
}

/** Throws (EndpointError or Error) when no usable verdict comes back; computeReward counts that as a failure. */
export class OpenAIConsistencyJudge implements ConsistencyJudge {
  readonly name: string;
  readonly stats: OpenAIJudgeStats = { requests: 0, retries: 0, failures: 0, cacheHits: 0, unparsable: 0 };
  private readonly client: OpenAI;
  private readonly limiter: Limiter;
  private readonly cache: LruCache<string, Consistency>;
  private readonly inflight = new Map<string, Promise<Consistency>>();
  private readonly baseURL: string;

  constructor(readonly options: OpenAIJudgeOptions) {
    this.baseURL = normalizeBaseURL(options.baseURL, 'judge baseURL');
    if (typeof options.model !== 'string' || options.model === '') throw new TypeError('judge model must be a non-empty string');
    this.name = `openai:${options.model}@${this.baseURL}`;
    this.client = options.client ?? makeClient({ ...options, timeoutMs: options.timeoutMs ?? 30000 });
    this.limiter = new Limiter(options.concurrency ?? 8);
    this.cache = new LruCache(options.cacheSize ?? 10000);
  }

  async judge(input: ConsistencyInput, opts: { signal?: AbortSignal } = {}): Promise<Consistency> {
    const prompt = consistencyJudgePrompt(lastLines(input.analysis, this.options.lines ?? 3), input.verdict);
    const key = createHash('sha256').update(this.options.model).update('\0').update(prompt).digest('hex');
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return hit;
    }
    // Identical questions asked at the same time share one request.
    const pending = this.inflight.get(key);
    if (pending) {
      this.stats.cacheHits++;
      return pending;
    }
    const p = this.ask(prompt, opts.signal).then((c) => {
      this.cache.set(key, c);
      return c;
    });
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private ask(prompt: string, signal?: AbortSignal): Promise<Consistency> {
    return this.limiter.run(async () => {
      const reply = await callWithRetries(
        this.baseURL,
        this.stats,
        async () => {
          const link = linkedSignal(signal);
          const res = await this.client.chat.completions
            .create(
              {
                model: this.options.model,
                messages: [{ role: 'user', content: prompt }],
                temperature: this.options.temperature ?? 0.1,
                max_tokens: 8,
              },
              { signal: link.signal },
            )
            .finally(link.release);
          const text = res.choices?.[0]?.message?.content;
          if (typeof text !== 'string') throw new EmptyResponseError('the judge returned no message content');
          return text;
        },
        { maxRetries: this.options.maxRetries, baseDelayMs: this.options.retryBaseDelayMs, signal },
      );
      const c = parseJudgeReply(reply);
      if (c === null) {
        this.stats.unparsable++;
        throw new Error(`judge reply is neither 1 nor 0: ${JSON.stringify(reply.slice(0, 40))}`);
      }
      return c;
    });
  }
}
