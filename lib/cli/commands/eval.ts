/** `stable-reinforce eval`: benchmark a reward model (see `usage`). */
import * as path from 'path';
import { EndpointPairJudge } from '../../eval/endpoint-judge';
import { createBuiltinPairJudge } from '../../eval/builtin';
import { runEval } from '../../eval/runner';
import type { EvalSummary } from '../../eval/summary';
import { BENCH_NAMES, type BenchName, type PairJudge } from '../../eval/types';
import { intFlag, numFlag, parseFlags, requireStr, str, UsageError } from '../args';
import { ProgressBar } from '../progress';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce eval --bench NAME --data FILE (--endpoint URL --model NAME | --model DIR) [flags]

Scores a generative reward model on a pairwise benchmark with R1-Reward's prompt, writes
DIR/predictions.jsonl (one line per pair, order and sample), DIR/summary.json and DIR/report.html.
A rerun with the same --out skips what is done, so an interrupted run resumes (Ctrl-C stops cleanly).

Data:
  --bench NAME          ${BENCH_NAMES.join(' | ')}
  --data FILE           the benchmark file, JSONL or a JSON array (convert parquet to JSONL first)
  --images DIR          folder that image/video paths in the file are relative to (default: the file's folder)
  --limit N             only the first N pairs
  --skip-missing        skip rows with a missing field or image (counted in the summary) instead of stopping
  --order MODE          balanced (default: the chosen response is shown first or second by a hash of the id)
                        or chosen-first (the released evaluation's order); for chosen/rejected benchmarks

Model (one of):
  --endpoint URL --model NAME
                        an OpenAI-compatible server (vLLM, SGLang, ...), e.g. http://localhost:8000/v1;
                        images are sent as base64 data URLs; the API key is read from $OPENAI_API_KEY
                        (or the variable named by --api-key-env; vLLM accepts any)
  --model DIR           the built-in model saved by "stable-reinforce train" (e.g. runs/<run>/model),
                        shown the compact prompt it was trained on
  --device D            auto | cpu | cuda, for --model DIR (default auto)

Sampling:
  --samples K           samples per pair (default 1); reports Voting@k and Any-correct@k for k = 1..K
  --temperature T       default 0 for K = 1, 1.0 for K > 1
  --top-p P             nucleus sampling: each token drawn from the fewest tokens holding P of the
                        probability, in (0, 1] (default 1: the full softmax, the paper's Voting@K)
  --max-tokens N        completion limit (default 1024)
  --swap                also judge every pair with the responses exchanged: accuracy per order and
                        positionConsistency (same choice in both orders)

Running:
  --out DIR             output folder (default: eval-<bench>-<model>)
  --concurrency C       requests in flight (default 8)
  --timeout SEC         per request timeout (default 300)
  --retries N           retries on 429/5xx/timeouts/connection errors, with exponential backoff (default 4)
  --api-key-env VAR     environment variable holding the API key (default OPENAI_API_KEY)
  --json                print summary.json to stdout instead of the short table
  --no-progress         no progress bar on stderr

Verdicts: the <answer> content first; without an <answer> block, a final "Answer: N" line or an unclosed
<answer>N at the very end (reported as parseFallbacks); anything else is a parse failure, counted wrong.
Voting ties go to the earliest parsed sample.
`;

const OPTIONS = {
  bench: { type: 'string' },
  data: { type: 'string' },
  images: { type: 'string' },
  model: { type: 'string' },
  endpoint: { type: 'string' },
  samples: { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'max-tokens': { type: 'string' },
  device: { type: 'string' },
  swap: { type: 'boolean' },
  concurrency: { type: 'string' },
  out: { type: 'string' },
  limit: { type: 'string' },
  'skip-missing': { type: 'boolean' },
  order: { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  'api-key-env': { type: 'string' },
  json: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
} as const;

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function formatSummary(s: EvalSummary, out: string): string {
  const lines = [
    `${s.bench}: ${s.pairs} pairs, ${s.evaluations} evaluations, model ${s.model}, K=${s.samples}, T=${s.temperature}` +
      ((s.topP ?? 1) < 1 ? `, top-p ${s.topP}` : ''),
    `overall ${pct(s.overall)}   macro ${pct(s.macro)}   mean sample ${pct(s.meanSampleAccuracy)}` + (s.accPlus ? `   Acc+ ${pct(s.accPlus.accuracy)}` : ''),
    'categories: ' +
      Object.entries(s.categories)
        .map(([c, a]) => `${c} ${pct(a.accuracy)} (n=${a.n})`)
        .join(', '),
    'Voting@k: ' +
      Object.entries(s.votingAtK)
        .map(([k, v]) => `${k}:${pct(v)}`)
        .join(' '),
    'Any-correct@k: ' +
      Object.entries(s.anyCorrectAtK)
        .map(([k, v]) => `${k}:${pct(v)}`)
        .join(' '),
    'by preferred position: ' +
      Object.entries(s.byPreferredPosition)
        .map(([p, a]) => `Response ${p} ${pct(a.accuracy)} (n=${a.n})`)
        .join(', '),
  ];
  if (s.orders) {
    lines.push(
      `orders: original ${pct(s.orders.original.accuracy)}, swapped ${pct(s.orders.swapped?.accuracy ?? 0)}; ` +
        `position consistency ${pct(s.positionConsistency ?? 0)}`,
    );
  }
  lines.push(
    `parse failures: ${s.parseFailures.count} (${pct(s.parseFailures.rate)}, counted wrong)` +
      (s.parseFallbacks ? `, fallback-parsed: ${s.parseFallbacks}` : '') +
      (s.skipped.count ? `; skipped rows: ${s.skipped.count}` : ''),
    ...s.warnings.map((w) => `warning: ${w}`),
    `wrote ${path.join(out, 'summary.json')}, ${path.join(out, 'report.html')}, ${path.join(out, 'predictions.jsonl')}`,
  );
  return lines.join('\n');
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, OPTIONS);
  const bench = requireStr(flags, 'bench', BENCH_NAMES.join(' | ')) as BenchName;
  if (!BENCH_NAMES.includes(bench)) throw new UsageError(`--bench must be one of ${BENCH_NAMES.join(', ')}, got ${JSON.stringify(bench)}`);
  const data = requireStr(flags, 'data', 'the benchmark file');
  const model = requireStr(flags, 'model', 'a served model NAME with --endpoint, or a model DIR');
  const endpoint = str(flags, 'endpoint');
  const samples = intFlag(flags, 'samples', { min: 1, max: 1024 }) ?? 1;
  const temperature = numFlag(flags, 'temperature', { min: 0, max: 2 });
  const topP = numFlag(flags, 'top-p', { min: 0, minOpen: true, max: 1 });
  const maxTokens = intFlag(flags, 'max-tokens');
  const concurrency = intFlag(flags, 'concurrency', { min: 1, max: 4096 }) ?? 8;
  const limit = intFlag(flags, 'limit');
  const timeoutSec = numFlag(flags, 'timeout', { min: 0.001 }) ?? 300;
  const retries = intFlag(flags, 'retries', { min: 0, max: 100 }) ?? 4;
  const order = str(flags, 'order') ?? 'balanced';
  if (order !== 'balanced' && order !== 'chosen-first') throw new UsageError(`--order must be balanced or chosen-first, got ${JSON.stringify(order)}`);
  const keyVar = str(flags, 'api-key-env') ?? 'OPENAI_API_KEY';
  const out = path.resolve(str(flags, 'out') ?? `eval-${bench}-${path.basename(model).replace(/[^\w.-]+/g, '_')}`);

  let judge: PairJudge;
  if (endpoint) {
    judge = new EndpointPairJudge({
      baseURL: endpoint,
      model,
      apiKey: io.env[keyVar] ?? 'EMPTY',
      timeoutMs: timeoutSec * 1000,
      maxRetries: retries,
      concurrency,
      maxTokens,
    });
  } else {
    const device = str(flags, 'device') ?? 'auto';
    if (!['auto', 'cpu', 'cuda'].includes(device)) throw new UsageError(`--device must be auto, cpu or cuda, got ${JSON.stringify(device)}`);
    judge = await createBuiltinPairJudge(model, { maxTokens, device });
  }

  const ac = new AbortController();
  const signals = io.signals ?? process;
  const onSignal = () => {
    if (ac.signal.aborted) return;
    io.stderr.write('\nstopping: finishing requests in flight; rerun the same command to resume\n');
    ac.abort(new Error('interrupted'));
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  const bar = flags['no-progress'] ? null : new ProgressBar({ total: 1, label: bench, stream: io.stderr });
  let started = false;
  try {
    const { summary } = await runEval({
      bench,
      data,
      images: str(flags, 'images'),
      judge,
      model,
      samples,
      temperature,
      topP,
      swap: Boolean(flags.swap),
      concurrency,
      out,
      limit,
      skipMissing: Boolean(flags['skip-missing']),
      order,
      signal: ac.signal,
      onProgress: (p) => {
        if (!bar) return;
        if (!started) {
          started = true;
          bar.start(p.done, p.total);
        } else bar.update(p.done);
      },
    });
    bar?.finish();
    io.stdout.write((flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary, out)) + '\n');
    return 0;
  } finally {
    if (started && bar) bar.finish();
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
    await judge.close?.();
  }
}
