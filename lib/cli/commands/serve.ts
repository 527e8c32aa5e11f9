/** `stable-reinforce serve`: the HTTP reward service (see `usage`). */
import * as fs from 'fs';
import { createBuiltinPairJudge } from '../../eval/builtin';
import { EndpointPairJudge, listEndpointModels } from '../../eval/endpoint-judge';
import type { PairJudge } from '../../eval/types';
import { RuleBasedJudge, type ConsistencyJudge } from '../../rewards/judge';
import { OpenAIConsistencyJudge } from '../../rewards/openai-judge';
import { LabelIndex } from '../../serve/labels';
import { createRewardServer } from '../../serve/server';
import { bytesFlag, intFlag, numFlag, parseFlags, str, UsageError } from '../args';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce serve [--port P] [--data FILE] [--judge URL] [flags]

An HTTP reward service for trainers that run elsewhere (OpenRLHF's --remote_rm_url), and for scoring pairs.

Routes:
  POST /get_reward   {"query": [prompt+response, ...], "prompts": [...], "labels": ["1" | "2" | "<answer>2</answer>", ...]}
                     -> {"rewards": [...]}: R = Result * (1 + 0.5 * Consistency) + 0.5 * Format per item.
                     The response is the query after its prompt, chat end tokens stripped. Items without a
                     label take it from --data, matched by prompt. Add ?details=1 for the parts.
  POST /score        {"question", "response1", "response2", "image"?: data:/http(s) URL or path under --images,
                     "samples"?: K, "temperature"?, "topP"?} -> {"verdict", "votes", "samples": [{verdict, analysis, output}]}
                     (needs --endpoint/--model; answers 503 otherwise)
  GET  /health       status, load and counters

Flags:
  --port P             port (default 8000; 0 picks a free one)
  --host H             address to bind (default 127.0.0.1; 0.0.0.0 to accept other machines)
  --data FILE          labels by prompt: R1-Reward RL rows {message, answer}, synthetic rows, or {prompt, label}
  --judge URL          consistency judge behind an OpenAI-compatible API (the paper: Qwen2.5-VL-7B-Instruct);
                       default: the built-in rule-based judge. A failing judge gives consistency 0, never a crash.
  --judge-model NAME   model name on --judge (default: the only model it serves)
  --judge-all          also judge outputs whose answer is wrong (reward unchanged; for the counters)
  --endpoint URL       reward model for /score: an OpenAI-compatible server, with --model NAME
  --model NAME|DIR     served model name (with --endpoint), or the built-in model DIR saved by "train"
  --images DIR         folder /score may read image paths from (otherwise only URLs are accepted)
  --concurrency N      requests processed at once (default 8)
  --max-queue N        requests waiting beyond that before 503 (default 512)
  --max-body SIZE      largest request body (default 32mb) -> 413
  --headers-timeout SEC  time a client has to send its request headers (default 20)
  --body-timeout SEC   time a client has to send the body once its headers are in (default 30) -> 408
  --timeout SEC        per request timeout towards --judge/--endpoint (default 60)
  --retries N          retries towards --judge/--endpoint on 429/5xx/timeouts (default 4)
  --api-key-env VAR    environment variable with the API key for --judge/--endpoint (default OPENAI_API_KEY)

SIGTERM or SIGINT: stop accepting, finish requests in flight, exit. A second signal cuts connections.
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
  judge: { type: 'string' },
  'judge-model': { type: 'string' },
  'judge-all': { type: 'boolean' },
  endpoint: { type: 'string' },
  model: { type: 'string' },
  images: { type: 'string' },
  concurrency: { type: 'string' },
  'max-queue': { type: 'string' },
  'max-body': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'body-timeout': { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'api-key-env': { type: 'string' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, OPTIONS);
  const port = intFlag(flags, 'port', { min: 0, max: 65535 }) ?? 8000;
  const host = str(flags, 'host') ?? '127.0.0.1';
  const timeoutMs = (numFlag(flags, 'timeout', { min: 0.001 }) ?? 60) * 1000;
  const retries = intFlag(flags, 'retries', { min: 0, max: 100 }) ?? 4;
  const concurrency = intFlag(flags, 'concurrency', { min: 1, max: 4096 }) ?? 8;
  const maxQueue = intFlag(flags, 'max-queue', { min: 0 }) ?? 512;
  const maxBodyBytes = bytesFlag(flags, 'max-body');
  const seconds = (name: string) => {
    const v = numFlag(flags, name, { min: 0.001, max: 86400 });
    return v === undefined ? undefined : Math.round(v * 1000);
  };
  const headersTimeoutMs = seconds('headers-timeout');
  const bodyTimeoutMs = seconds('body-timeout');
  const apiKey = io.env[str(flags, 'api-key-env') ?? 'OPENAI_API_KEY'] ?? 'EMPTY';
  const images = str(flags, 'images');
  if (images !== undefined && !fs.statSync(images, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--images: folder not found: ${images}`);

  const dataFile = str(flags, 'data');
  const labels = dataFile ? LabelIndex.fromFile(dataFile) : null;

  let judge: ConsistencyJudge = new RuleBasedJudge();
  const judgeUrl = str(flags, 'judge');
  if (judgeUrl) {
    let judgeModel = str(flags, 'judge-model');
    if (!judgeModel) {
      const models = await listEndpointModels({ baseURL: judgeUrl, apiKey, timeoutMs });
      if (models.length !== 1) {
        throw new UsageError(`--judge-model is required: ${judgeUrl} serves ${models.length ? models.join(', ') : 'no models'}`);
      }
      judgeModel = models[0];
    }
    judge = new OpenAIConsistencyJudge({ baseURL: judgeUrl, model: judgeModel, apiKey, timeoutMs, maxRetries: retries, concurrency });
  } else if (str(flags, 'judge-model')) throw new UsageError('--judge-model needs --judge URL');

  let pairJudge: PairJudge | null = null;
  const endpoint = str(flags, 'endpoint');
  const model = str(flags, 'model');
  if (endpoint) {
    if (!model) throw new UsageError('--endpoint needs --model NAME (the served model name)');
    pairJudge = new EndpointPairJudge({ baseURL: endpoint, model, apiKey, timeoutMs, maxRetries: retries, concurrency });
  } else if (model) pairJudge = await createBuiltinPairJudge(model);

  const service = createRewardServer({
    judge,
    pairJudge,
    labels,
    judgeAll: Boolean(flags['judge-all']),
    concurrency,
    maxQueue,
    maxBodyBytes,
    headersTimeoutMs,
    bodyTimeoutMs,
    imagesDir: images,
    log: (line) => io.stderr.write(line + '\n'),
  });
  let url: string;
  try {
    ({ url } = await service.listen(port, host));
  } catch (e) {
    await pairJudge?.close?.();
    throw new Error(`--host ${host} --port ${port}: cannot listen there (${(e as Error).message})`);
  }
  io.stdout.write(
    `reward service listening on ${url}\n` +
      `  consistency judge: ${judge.name}\n` +
      `  /score model: ${pairJudge?.name ?? 'none (503)'}\n` +
      `  labels: ${labels ? `${labels.size} prompts from ${dataFile}${labels.conflicts ? ` (${labels.conflicts} conflicting duplicates ignored)` : ''}` : 'from requests only'}\n`,
  );

  const signals = io.signals ?? process;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) {
        io.stderr.write('second signal: closing all connections\n');
        service.server.closeAllConnections();
        return;
      }
      stopping = true;
      const { active, queued } = service.load();
      io.stderr.write(`shutting down: finishing ${active + queued} request(s) in flight\n`);
      service.close().then(() => {
        signals.off('SIGINT', onSignal);
        signals.off('SIGTERM', onSignal);
        resolve();
      });
    };
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
  });
  io.stdout.write(`reward service stopped (${service.stats.rewards} rewards served)\n`);
  return 0;
}
