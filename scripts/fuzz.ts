/**
 * `npm run fuzz`: every public API, CLI command and service route against generated bad inputs, in worker
 * processes; counts crashes, hangs, unclear errors and silent wrong results (scripts/fuzz/corpus.ts says what
 * each means) and prints a summary. Exit code 1 when any case is not ok.
 *
 *   node dist/scripts/fuzz.js [--json] [--write-results] [--jobs N] [--filter TEXT] [--every N] [--timeout SEC]
 *     --json      the summary as JSON (cases, ok, crashes, hangs, unclear, silent, wallSeconds, date, cpu, failures)
 *     --write-results  also replace the "fuzz-corpus" section of bench/RESULTS.md
 *     --jobs N    workers at once (default 2)
 *     --filter T  only the cases whose id contains T
 *     --every N   only every N-th case (a quick sample; the jest test runs one)
 *     --timeout S a case reporting nothing for S seconds is a hang (default 30)
 */
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { machineDescription, today, writeSection } from './bench/results-file';
import { buildCorpus } from './fuzz/corpus';
import { formatSummary, runCases } from './fuzz/runner';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      'write-results': { type: 'boolean' },
      jobs: { type: 'string' },
      filter: { type: 'string' },
      every: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const positive = (v: string | undefined, name: string, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const every = Math.floor(positive(values.every, 'every', 1));
  const cases = buildCorpus()
    .filter((c) => values.filter === undefined || c.id.includes(values.filter))
    .filter((_c, i) => i % every === 0)
    .map(({ id, group }) => ({ id, group }));
  const load = os.loadavg()[0];
  const summary = await runCases(cases, {
    worker: [process.execPath, path.join(__dirname, 'fuzz', 'worker.js')],
    jobs: positive(values.jobs, 'jobs', 2),
    timeoutMs: positive(values.timeout, 'timeout', 30) * 1000,
  });
  process.stdout.write((values.json ? JSON.stringify(summary, null, 2) : formatSummary(summary)) + '\n');
  if (values['write-results']) {
    const command = `node dist/scripts/fuzz.js ${process.argv.slice(2).join(' ')}`.trim();
    const rows = [
      ['cases', `${summary.cases} (public APIs ${summary.byGroup.api}, CLI ${summary.byGroup.cli}, service routes ${summary.byGroup.http})`],
      ['ok', String(summary.ok)],
      ['crashes', String(summary.crashes)],
      ['hangs', String(summary.hangs)],
      ['unclear errors', String(summary.unclear)],
      ['silent wrong results', String(summary.silent)],
      ['wall time', `${summary.wallSeconds.toFixed(1)} s (${values.jobs ?? 2} worker processes)`],
    ];
    writeSection(
      'fuzz-corpus',
      [
        '## Bad-input corpus (`npm run fuzz`)',
        '',
        `- ${today()}; ${machineDescription()}; 1-min load average ${load.toFixed(2)} at the start; \`${command}\``,
        '- every public API, CLI command and service route against generated bad inputs (scripts/fuzz/corpus.ts), in worker processes',
        '',
        '| | |',
        '| --- | --- |',
        ...rows.map(([k, v]) => `| ${k} | ${v} |`),
        ...(summary.failures.length
          ? [
              '',
              'Not ok:',
              '',
              ...summary.failures.slice(0, 30).map((f) => `- ${f.verdict}: \`${f.id}\`: ${(f.detail ?? '').replace(/\s+/g, ' ').slice(0, 200)}`),
            ]
          : []),
      ].join('\n'),
    );
  }
  return summary.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exit(2);
  },
);
