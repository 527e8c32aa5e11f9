/** Small async building blocks shared by the judge client, the endpoint scorer and the reward service. */

/** Runs at most `limit` tasks at once; the rest wait in FIFO order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `active` stays counted.
      if (next) next();
      else this.active--;
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  /** Retries after the first attempt (default 4). */
  maxRetries?: number;
  /** First backoff delay in ms (default 500); doubles each retry. */
  baseDelayMs?: number;
  /** Cap on one delay in ms (default 20000). */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Called before each wait, for logging and counting. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** What `withRetries` needs to know about an error. */
export interface RetryDecision {
  retry: boolean;
  /** Server-requested delay (Retry-After), in ms. */
  retryAfterMs?: number;
}

/**
 * Calls `fn` until it succeeds, `classify` says the error is final, or retries run out. The delay is
 * exponential with jitter (50-100% of base*2^attempt, capped), or the server's Retry-After when longer.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, classify: (error: unknown) => RetryDecision, options: RetryOptions = {}): Promise<T> {
  const maxRetries = options.maxRetries ?? 4;
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 20000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const decision = classify(error);
      if (!decision.retry || attempt >= maxRetries) throw error;
      const backoff = Math.min(cap, base * 2 ** attempt) * (0.5 + Math.random() * 0.5);
      const delayMs = Math.min(cap, Math.max(backoff, decision.retryAfterMs ?? 0));
      options.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, options.signal);
    }
  }
}

/** A Map bounded to `max` entries that forgets the least recently used one. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    if (this.max <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
}

/**
 * A per-call signal that follows `outer`. Libraries that never remove their abort listeners (the openai
 * client) get this short-lived signal, so a long run's shared signal does not collect one listener per request.
 */
export function linkedSignal(outer?: AbortSignal): { signal?: AbortSignal; release(): void } {
  if (!outer) return { signal: undefined, release: () => undefined };
  const c = new AbortController();
  if (outer.aborted) c.abort(outer.reason);
  const onAbort = () => c.abort(outer.reason);
  outer.addEventListener('abort', onAbort, { once: true });
  return { signal: c.signal, release: () => outer.removeEventListener('abort', onAbort) };
}
