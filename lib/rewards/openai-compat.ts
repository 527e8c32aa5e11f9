/** Shared plumbing for OpenAI-compatible chat endpoints (vLLM, SGLang, OpenAI...): URLs, errors, retries. */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { trimTrailing } from '../internal/text';
import { withRetries, type RetryDecision, type RetryOptions } from './async';

/** Options common to every client of an OpenAI-compatible endpoint. */
export interface EndpointOptions {
  /** Base URL of the API, e.g. http://localhost:8000/v1 ("/v1" is added when the URL has no path). */
  baseURL: string;
  /** Model name as the server knows it. */
  model: string;
  /** API key; default: process.env.OPENAI_API_KEY, else "EMPTY" (vLLM accepts any key). */
  apiKey?: string;
  /** Per request timeout in ms. */
  timeoutMs?: number;
  /** Retries on 429, 5xx, 408, timeouts and connection errors (default 4). */
  maxRetries?: number;
  /** First backoff delay in ms (default 500). */
  retryBaseDelayMs?: number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

export function normalizeBaseURL(url: unknown, name = 'baseURL'): string {
  if (typeof url !== 'string' || url.trim() === '') throw new TypeError(`${name} must be a non-empty URL string`);
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new RangeError(`${name} is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RangeError(`${name} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/v1';
  return trimTrailing(parsed.toString(), '/');
}

export function makeClient(options: EndpointOptions): OpenAI {
  return new OpenAI({
    baseURL: normalizeBaseURL(options.baseURL),
    apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? 'EMPTY',
    timeout: options.timeoutMs ?? 120000,
    // Retries are ours (withRetries) so backoff, counting and the final message are under our control.
    maxRetries: 0,
  });
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const v = headers.get('retry-after');
  if (!v) return undefined;
  if (Number.isFinite(Number(v))) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Retry on rate limits, server errors, timeouts and lost connections; never on 4xx client errors. */
export function classifyEndpointError(error: unknown): RetryDecision {
  if (error instanceof APIUserAbortError) return { retry: false };
  if (error instanceof APIConnectionTimeoutError || error instanceof APIConnectionError) return { retry: true };
  if (error instanceof APIError) {
    const s = error.status ?? 0;
    if (s === 408 || s === 409 || s === 429 || s >= 500) return { retry: true, retryAfterMs: retryAfterMs(error.headers) };
    return { retry: false };
  }
  if (error instanceof EmptyResponseError) return { retry: true };
  return { retry: false };
}

/** The server answered 200 but without usable choices (some servers do this under load). */
export class EmptyResponseError extends Error {}

/** The final error of an endpoint call: says where, what, and after how many attempts. */
export class EndpointError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EndpointError';
  }
}

function rootCause(error: unknown): string {
  let e: unknown = error;
  for (let i = 0; i < 5 && e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause; i++) {
    e = (e as { cause: unknown }).cause;
  }
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    const msg = (e as { message?: unknown }).message;
    return [code, msg].filter((x) => typeof x === 'string' && x !== '').join(': ');
  }
  return String(e);
}

export function describeEndpointError(error: unknown, baseURL: string, attempts: number): EndpointError {
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (error instanceof APIUserAbortError) {
    return new EndpointError(`request to endpoint ${baseURL} was aborted`, attempts, undefined, { cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new EndpointError(`endpoint ${baseURL} timed out (${tries})`, attempts, undefined, { cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new EndpointError(`endpoint ${baseURL} is unreachable (${rootCause(error)}; ${tries})`, attempts, undefined, {
      cause: error,
    });
  }
  if (error instanceof APIError) {
    return new EndpointError(`endpoint ${baseURL} answered HTTP ${error.status}: ${error.message} (${tries})`, attempts, error.status, {
      cause: error,
    });
  }
  const msg = error instanceof Error ? error.message : String(error);
  return new EndpointError(`endpoint ${baseURL} failed: ${msg} (${tries})`, attempts, undefined, { cause: error });
}

/** Counters an endpoint client keeps; exposed for logs, /health and tests. */
export interface EndpointStats {
  requests: number;
  retries: number;
  failures: number;
}

/** Runs one endpoint call with retries and turns the last error into an EndpointError. */
export async function callWithRetries<T>(baseURL: string, stats: EndpointStats, fn: () => Promise<T>, retry: RetryOptions): Promise<T> {
  let attempts = 0;
  try {
    return await withRetries(
      () => {
        attempts++;
        stats.requests++;
        return fn();
      },
      classifyEndpointError,
      { ...retry, onRetry: (info) => (stats.retries++, retry.onRetry?.(info)) },
    );
  } catch (error) {
    stats.failures++;
    if (error instanceof EndpointError) throw error;
    throw describeEndpointError(error, baseURL, attempts);
  }
}
