/** A PairJudge backed by an OpenAI-compatible chat endpoint (e.g. R1-Reward 7B served by vLLM). */
import type OpenAI from 'openai';
import { topPOption } from '../internal/validate';
import { Limiter, linkedSignal } from '../rewards/async';
import { callWithRetries, EmptyResponseError, makeClient, normalizeBaseURL, type EndpointOptions, type EndpointStats } from '../rewards/openai-compat';
import { mediaUrl } from './media';
import { buildPrompt } from './prompt';
import type { JudgeOptions, JudgePair, PairJudge } from './types';

export interface EndpointPairJudgeOptions extends EndpointOptions {
  /** max_tokens per completion (default 1024, the paper's generation limit). */
  maxTokens?: number;
  /**
   * Ask for K samples in one request with `n` (default true). Servers that return fewer choices are asked
   * again for the rest; set false for servers that reject `n`.
   */
  useN?: boolean;
  /** Inject a client (tests). */
  client?: OpenAI;
}

/**
 * The user message is [prompt text, image], the order of R1-Reward's training rows; images go as base64
 * data URLs (`image_url`), videos as `video_url` (a vLLM extension).
 */
export class EndpointPairJudge implements PairJudge {
  readonly name: string;
  readonly stats: EndpointStats = { requests: 0, retries: 0, failures: 0 };
  readonly baseURL: string;
  private readonly client: OpenAI;
  private readonly limiter: Limiter;

  constructor(readonly options: EndpointPairJudgeOptions) {
    this.baseURL = normalizeBaseURL(options.baseURL, 'endpoint');
    if (typeof options.model !== 'string' || options.model === '') throw new TypeError('model must be a non-empty model name');
    if (options.maxTokens !== undefined && (!Number.isInteger(options.maxTokens) || options.maxTokens < 1)) {
      throw new RangeError(`maxTokens must be a positive integer, got ${options.maxTokens}`);
    }
    this.name = `endpoint:${options.model}@${this.baseURL}`;
    this.client = options.client ?? makeClient(options);
    this.limiter = new Limiter(options.concurrency ?? 8);
  }

  async judge(pair: JudgePair, options: JudgeOptions): Promise<string[]> {
    const { samples, temperature, signal } = options;
    if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
    if (typeof temperature !== 'number' || !(temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
    const topP = topPOption(options.topP, 'topP');
    const content: Array<Record<string, unknown>> = [{ type: 'text', text: buildPrompt(pair.question, pair.response1, pair.response2) }];
    if (pair.media) {
      const url = await mediaUrl(pair.media);
      content.push(pair.media.kind === 'video' ? { type: 'video_url', video_url: { url } } : { type: 'image_url', image_url: { url } });
    }
    const messages = [{ role: 'user', content }] as unknown as OpenAI.Chat.Completions.ChatCompletionMessageParam[];
    const outputs: string[] = [];
    // Each round asks for what is still missing; bounded so a server that always returns 1 choice still ends.
    for (let round = 0; outputs.length < samples && round < samples; round++) {
      const n = this.options.useN === false ? 1 : samples - outputs.length;
      const texts = await this.limiter.run(() =>
        callWithRetries(
          this.baseURL,
          this.stats,
          async () => {
            const link = linkedSignal(signal);
            const res = await this.client.chat.completions
              .create(
                {
                  model: this.options.model,
                  messages,
                  temperature,
                  // Sent only when set: a server's own default stays in force otherwise.
                  ...(topP < 1 ? { top_p: topP } : {}),
                  max_tokens: this.options.maxTokens ?? 1024,
                  ...(n > 1 ? { n } : {}),
                },
                { signal: link.signal },
              )
              .finally(link.release);
            if (!Array.isArray(res.choices) || res.choices.length === 0) throw new EmptyResponseError('the endpoint returned no choices');
            // A null content (e.g. cut by a filter) is kept as "" and counted as a parse failure by the caller.
            return res.choices.map((c) => (typeof c.message?.content === 'string' ? c.message.content : ''));
          },
          { maxRetries: this.options.maxRetries, baseDelayMs: this.options.retryBaseDelayMs, signal },
        ),
      );
      outputs.push(...texts.slice(0, samples - outputs.length));
    }
    if (outputs.length < samples) throw new Error(`endpoint ${this.baseURL} returned ${outputs.length} of ${samples} samples`);
    return outputs;
  }
}

/** The models an endpoint serves (GET /models), to pick a default model name. */
export async function listEndpointModels(options: Pick<EndpointOptions, 'baseURL' | 'apiKey' | 'timeoutMs'>): Promise<string[]> {
  const client = makeClient({ ...options, model: '-', timeoutMs: options.timeoutMs ?? 10000 });
  const stats: EndpointStats = { requests: 0, retries: 0, failures: 0 };
  const page = await callWithRetries(normalizeBaseURL(options.baseURL), stats, () => client.models.list(), { maxRetries: 2, baseDelayMs: 200 });
  return page.data.map((m) => m.id);
}
