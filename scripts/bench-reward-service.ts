/**
 * Benchmark of the reward service (not a test): starts it with the rule-based judge, drives POST /get_reward
 * from a second Node process over loopback with keep-alive connections, and reports requests/s, rewards/s and
 * latency percentiles. Writes a dated section per request size to bench/RESULTS.md.
 *
 *   npm run bench:serve -- [--duration 10] [--connections 32] [--batch 8] [--concurrency 8] [--max-requests 200000] [--no-write]
 */
import { fork } from 'child_process';
import * as http from 'http';
import * as os from 'os';
import { parseArgs } from 'util';
import { buildPrompt } from '../lib/eval/prompt';
import { createRewardServer } from '../lib/serve/server';
import { RESULTS_FILE, writeSection } from './bench/results-file';

interface ClientConfig {
  url: string;
  durationMs: number;
  warmupMs: number;
  maxRequests: number;
  connections: number;
  batch: number;
}

interface ClientResult {
  requests: number;
  rewards: number;
  errors: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  bytesPerRequest: number;
}

// ---------------------------------------------------------------- client (second process)

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** One OpenRLHF-like request: `batch` chat-templated prompts (~2 KB) with varied ~1 KB outputs. */
function makeBody(seed: number, batch: number): string {
  const query: string[] = [];
  const prompts: string[] = [];
  const labels: string[] = [];
  const filler = 'The image shows a street scene with several cars, a cyclist and tall buildings. '.repeat(6);
  for (let i = 0; i < batch; i++) {
    const k = seed * batch + i;
    const prompt =
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>' +
      buildPrompt(`Question ${k}: how many cars are visible?`, `There are ${k % 7} cars. ${filler}`, `I count ${(k + 1) % 7} cars. ${filler}`) +
      '<|im_end|>\n<|im_start|>assistant\n';
    const n = (k % 2) + 1;
    const analysis =
      `Response 1 says ${k % 7} cars and Response 2 says ${(k + 1) % 7}. ${filler}\nLooking at the image again, the count matters most.\n` +
      (k % 5 === 0 ? `Response ${3 - n} is better.` : `Therefore Response ${n} is better.`);
    const output = k % 11 === 0 ? `Response ${n}.` : `<think>${analysis}</think><answer>${n}</answer>`;
    query.push(prompt + output + '<|im_end|>');
    prompts.push(prompt);
    labels.push(String(k % 3 === 0 ? 3 - n : n));
  }
  return JSON.stringify({ query, prompts, labels });
}

async function runClient(cfg: ClientConfig): Promise<ClientResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.connections });
  const bodies = Array.from({ length: 64 }, (_, i) => makeBody(i, cfg.batch));
  const latencies = new Float64Array(cfg.maxRequests);
  const statuses: Record<string, number> = {};
  let sent = 0;
  let measured = 0;
  let rewards = 0;
  let errors = 0;
  const t0 = performance.now();
  const measureFrom = t0 + cfg.warmupMs;
  const end = measureFrom + cfg.durationMs;
  const url = new URL('/get_reward', cfg.url);
  const one = (body: string) =>
    new Promise<{ status: number; count: number }>((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            let count = 0;
            if (res.statusCode === 200) count = (JSON.parse(Buffer.concat(chunks).toString('utf8')).rewards as number[]).length;
            resolve({ status: res.statusCode ?? 0, count });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const loop = async () => {
    while (performance.now() < end && measured < cfg.maxRequests) {
      const body = bodies[sent++ % bodies.length];
      const start = performance.now();
      try {
        const r = await one(body);
        const done = performance.now();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (start >= measureFrom && measured < cfg.maxRequests) {
          latencies[measured++] = done - start;
          if (r.status === 200) rewards += r.count;
          else errors++;
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.connections }, loop));
  const elapsedMs = Math.min(performance.now(), end) - measureFrom;
  agent.destroy();
  const sorted = latencies.slice(0, measured).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    requests: measured,
    rewards,
    errors,
    statuses,
    elapsedMs,
    latencyMs: { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN, mean },
    bytesPerRequest: Math.round(bodies.reduce((a, b) => a + Buffer.byteLength(b), 0) / bodies.length),
  };
}

// ---------------------------------------------------------------- parent

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '32' },
      batch: { type: 'string', default: '8' },
      concurrency: { type: 'string', default: '8' },
      'max-requests': { type: 'string', default: '200000' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const num = (k: keyof typeof values) => {
    const n = Number(values[k]);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${k} must be a positive number, got ${values[k]}`);
    return n;
  };
  const service = createRewardServer({ concurrency: num('concurrency'), maxQueue: 4096 });
  const { url } = await service.listen(0, '127.0.0.1');
  const cfg: ClientConfig = {
    url,
    durationMs: num('duration') * 1000,
    warmupMs: Number(values.warmup) * 1000,
    maxRequests: Math.floor(num('max-requests')),
    connections: Math.floor(num('connections')),
    batch: Math.floor(num('batch')),
  };
  const load = os.loadavg()[0];
  const child = fork(__filename, ['--client'], { stdio: 'inherit' });
  const hardLimit = setTimeout(() => child.kill('SIGKILL'), cfg.durationMs + cfg.warmupMs + 60000);
  const result = await new Promise<ClientResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ClientResult));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`load client exited with code ${code} before reporting`)));
    child.send(cfg);
  });
  clearTimeout(hardLimit);
  child.kill();
  const served = service.stats;
  await service.close();

  const rps = result.requests / (result.elapsedMs / 1000);
  const items = result.rewards / (result.elapsedMs / 1000);
  const f = (x: number) => x.toFixed(2);
  const cpu = os.cpus();
  const args = process.argv.slice(2);
  const command = `npm run bench:serve${args.length ? ' -- ' + args.join(' ') : ''}`;
  const stamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const entry = [
    `### ${stamp}`,
    '',
    `- command: \`${command}\``,
    `- machine: ${cpu[0]?.model?.trim() ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `${os.platform()} ${os.release()} ${os.arch()}, Node ${process.version}, 1-min load average at start ${load.toFixed(2)}`,
    `- setup: rule-based judge, service concurrency ${values.concurrency}, load from a second Node process over ` +
      `loopback with ${cfg.connections} keep-alive connections, ${cfg.batch} items per request (~${(result.bytesPerRequest / 1024).toFixed(1)} KiB), ` +
      `${(cfg.durationMs / 1000).toFixed(0)} s measured after ${(cfg.warmupMs / 1000).toFixed(0)} s warm-up; client and service share the machine`,
    '',
    '| requests/s | rewards/s | p50 ms | p90 ms | p99 ms | max ms | requests | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${rps.toFixed(0)} | ${items.toFixed(0)} | ${f(result.latencyMs.p50)} | ${f(result.latencyMs.p90)} | ${f(result.latencyMs.p99)} | ${f(result.latencyMs.max)} | ${result.requests} | ${result.errors} |`,
    '',
    `Service counters: ${served.rewards} rewards, judge calls ${served.reward.judged}, consistent ${served.reward.consistent}, ` +
      `inconsistent ${served.reward.inconsistent}, undecided ${served.reward.undecided}, judge failures ${served.reward.judgeFailures}, busy (503) ${served.busy}.`,
    '',
  ].join('\n');
  process.stdout.write(entry + '\n');
  if (!values['no-write']) {
    // One section per request size; a rerun replaces it.
    writeSection(`reward-service-batch-${cfg.batch}`, `## Reward service, ${cfg.batch} item(s) per request\n\n${entry.replace(/^### /, 'Run of ')}`);
    process.stdout.write(`wrote ${RESULTS_FILE}\n`);
  }
}

if (require.main === module) {
  if (process.argv.includes('--client')) {
    process.once('message', (cfg) => {
      runClient(cfg as ClientConfig).then(
        (r) => process.send!(r, () => process.exit(0)),
        (e) => {
          process.stderr.write(`load client failed: ${(e as Error).stack}\n`);
          process.exit(1);
        },
      );
    });
  } else {
    main().catch((e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    });
  }
}
