/**
 * The reward service over HTTP (Node's http module):
 *   POST /get_reward  OpenRLHF remote reward protocol -> { rewards }
 *   POST /score       judge one pair with the configured PairJudge (503 when none)
 *   GET  /health      status and counters
 * Bounded work: `concurrency` requests are processed at once, up to `maxQueue` more wait (beyond that: 503
 * with Retry-After). A request takes its place only once its body has been read, so slow uploads hold a
 * connection, never a slot: bodies must arrive within `bodyTimeoutMs` (else 408) and headers within
 * `headersTimeoutMs`; bodies over `maxBodyBytes` get 413. close() stops accepting, finishes what was admitted,
 * then closes the connections.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { createRewardStats, DEFAULT_REWARD_WEIGHTS, type RewardStats, type RewardWeights } from '../rewards/combine';
import { trimTrailing } from '../internal/text';
import { RuleBasedJudge, type ConsistencyJudge } from '../rewards/judge';
import type { PairJudge } from '../eval/types';
import type { LabelIndex } from './labels';
import { getRewards, RequestError, scorePair } from './protocol';

export interface RewardServerOptions {
  /** Consistency judge (default: the rule-based judge). */
  judge?: ConsistencyJudge;
  /** The reward model behind /score; absent -> /score answers 503. */
  pairJudge?: PairJudge | null;
  /** Labels by prompt, for requests without labels (--data). */
  labels?: LabelIndex | null;
  weights?: RewardWeights;
  /** Also judge outputs whose result is 0 (default false; the reward does not change). */
  judgeAll?: boolean;
  /** Requests processed at once (default 8). */
  concurrency?: number;
  /** Requests admitted beyond `concurrency` that wait (default 512). */
  maxQueue?: number;
  /** Largest request body in bytes (default 32 MiB: /score may carry an image). */
  maxBodyBytes?: number;
  /** Most items per /get_reward request (default 16384). */
  maxItems?: number;
  /** Most samples per /score request (default 32). */
  maxScoreSamples?: number;
  /** Folder /score image paths may point into (symbolic links leading out of it are refused). */
  imagesDir?: string;
  /** Time a client has to send the request headers, ms (default 20000). */
  headersTimeoutMs?: number;
  /** Time a client has to send the body once the headers are in, ms (default 30000): then 408 and the connection is closed. */
  bodyTimeoutMs?: number;
  /** Error lines (default: none). */
  log?: (line: string) => void;
}

export interface ServiceStats {
  startedAt: string;
  requests: Record<'get_reward' | 'score' | 'health' | 'other', number>;
  responses: Record<string, number>;
  /** Rewards computed (items of /get_reward). */
  rewards: number;
  /** Rejected because the queue was full. */
  busy: number;
  /** Bodies not received within bodyTimeoutMs (answered 408). */
  bodyTimeouts: number;
  reward: RewardStats;
}

export interface RewardServer {
  readonly server: http.Server;
  readonly stats: ServiceStats;
  /** Requests processed (active) and waiting (queued) for a slot; bodies still being received (reading) hold none. */
  load(): { active: number; queued: number; reading: number };
  listen(port?: number, host?: string): Promise<{ port: number; host: string; url: string }>;
  /** Graceful: new requests get 503, admitted ones finish; after `timeoutMs` (default 30000) connections are cut. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** `await using server = createRewardServer(...)`: close() with its defaults at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

function positiveInt(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) < 1) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

class BodyTooLarge extends Error {}
class BodyTimeout extends Error {}
class BodyAborted extends Error {}

/** The request body, at most `limit` bytes, within `timeoutMs` of the call. */
function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: Error | null) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) settle(new BodyTooLarge());
      else chunks.push(c);
    };
    const onEnd = () => settle(null);
    const onError = () => settle(new BodyAborted()); // the connection broke (ECONNRESET, "aborted")
    const onClose = () => settle(new BodyAborted()); // the client went away before the end
    const timer = setTimeout(() => settle(new BodyTimeout()), timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

export function createRewardServer(options: RewardServerOptions = {}): RewardServer {
  const concurrency = positiveInt(options.concurrency, 'concurrency', 8);
  const maxQueue = options.maxQueue === 0 ? 0 : positiveInt(options.maxQueue, 'maxQueue', 512);
  const maxBody = positiveInt(options.maxBodyBytes, 'maxBodyBytes', 32 * 1024 * 1024);
  const headersTimeoutMs = positiveInt(options.headersTimeoutMs, 'headersTimeoutMs', 20_000);
  const bodyTimeoutMs = positiveInt(options.bodyTimeoutMs, 'bodyTimeoutMs', 30_000);
  const judge = options.judge ?? new RuleBasedJudge();
  const weights = options.weights ?? DEFAULT_REWARD_WEIGHTS;
  const started = Date.now();
  const stats: ServiceStats = {
    startedAt: new Date(started).toISOString(),
    requests: { get_reward: 0, score: 0, health: 0, other: 0 },
    responses: {},
    rewards: 0,
    busy: 0,
    bodyTimeouts: 0,
    reward: createRewardStats(),
  };
  let admitted = 0; // waiting or processed
  let reading = 0; // bodies being received: no slot yet
  let processing = 0;
  const waiting: Array<() => void> = [];
  let closing = false;
  let drained: (() => void) | null = null;

  const acquire = async () => {
    if (processing < concurrency) processing++;
    else await new Promise<void>((ok) => waiting.push(ok));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else processing--;
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    stats.responses[status] = (stats.responses[status] ?? 0) + 1;
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...(closing ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  };

  const health = () => ({
    status: closing ? 'shutting-down' : 'ok',
    uptimeSec: (Date.now() - started) / 1000,
    active: admitted - waiting.length,
    queued: waiting.length,
    reading,
    concurrency,
    maxQueue,
    judge: judge.name,
    scorer: options.pairJudge?.name ?? null,
    labels: options.labels ? options.labels.size : null,
    stats,
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = trimTrailing(url.pathname, '/') || '/';
    if (route === '/health') {
      stats.requests.health++;
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET /health' }, { allow: 'GET, HEAD' });
      return send(res, closing ? 503 : 200, health());
    }
    if (route !== '/get_reward' && route !== '/score') {
      stats.requests.other++;
      return send(res, 404, { error: `no route ${route}; routes: POST /get_reward, POST /score, GET /health` });
    }
    stats.requests[route === '/get_reward' ? 'get_reward' : 'score']++;
    if (req.method !== 'POST') return send(res, 405, { error: `use POST ${route}` }, { allow: 'POST' });
    if (closing) {
      req.resume();
      return send(res, 503, { error: 'the service is shutting down' });
    }
    // The body first, without a slot: a slow upload holds its connection (until bodyTimeoutMs), not the service.
    let raw: Buffer;
    reading++;
    try {
      raw = await readBody(req, maxBody, bodyTimeoutMs);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        req.resume(); // drain what is still coming until the connection closes
        return send(res, 413, { error: `body larger than ${maxBody} bytes` }, { connection: 'close' });
      }
      if (error instanceof BodyTimeout) {
        stats.bodyTimeouts++;
        res.once('finish', () => req.socket.destroy());
        return send(res, 408, { error: `the body did not arrive within ${bodyTimeoutMs / 1000} s` }, { connection: 'close' });
      }
      if (error instanceof BodyAborted) return;
      throw error;
    } finally {
      reading--;
    }
    if (closing) return send(res, 503, { error: 'the service is shutting down' });
    if (admitted >= concurrency + maxQueue) {
      stats.busy++;
      return send(res, 503, { error: `busy: ${admitted} requests in progress or queued; retry later` }, { 'retry-after': '1' });
    }
    admitted++;
    try {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return send(res, 400, { error: 'body is not valid JSON' });
      }
      await acquire();
      try {
        if (route === '/get_reward') {
          const out = await getRewards(
            body,
            { judge, labels: options.labels, weights, stats: stats.reward, judgeAll: options.judgeAll, maxItems: options.maxItems },
            { details: url.searchParams.get('details') === '1' },
          );
          stats.rewards += out.rewards.length;
          return send(res, 200, out);
        }
        const out = await scorePair(body, { pairJudge: options.pairJudge, imagesDir: options.imagesDir, maxSamples: options.maxScoreSamples });
        return send(res, 200, out);
      } finally {
        release();
      }
    } finally {
      admitted--;
      if (closing && admitted === 0 && drained) drained();
    }
  };

  const server = http.createServer(
    {
      // Node's own limits as a backstop to readBody's timer: the headers, then the whole request; checked each second.
      headersTimeout: headersTimeoutMs,
      requestTimeout: headersTimeoutMs + bodyTimeoutMs + 1000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      handle(req, res).catch((error) => {
        if (error instanceof RequestError) return send(res, error.status, { error: error.message });
        // The details (paths, stacks) go to the service's log, not to the client.
        options.log?.(`internal error on ${req.method} ${req.url}: ${(error as Error)?.stack ?? error}`);
        send(res, 500, { error: 'internal error (the service log has the details)' });
      });
    },
  );
  // Keep-alive sockets idle longer than typical clients' pools, so a busy trainer reuses connections.
  server.keepAliveTimeout = 65000;

  return {
    server,
    stats,
    load: () => ({ active: admitted - waiting.length, queued: waiting.length, reading }),
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          const shownHost = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ port: a.port, host: a.address, url: `http://${shownHost}:${a.port}` });
        });
      });
    },
    async close({ timeoutMs = 30000 } = {}) {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      if (admitted > 0) {
        const done = new Promise<void>((ok) => (drained = ok));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((ok) => (timer = setTimeout(ok, timeoutMs)));
        await Promise.race([done, timeout]);
        clearTimeout(timer);
      }
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(cut);
      await options.pairJudge?.close?.();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
