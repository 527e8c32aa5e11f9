/**
 * The bad-input corpus (scripts/fuzz, `npm run fuzz`) on a sample of its cases, from the TypeScript sources:
 * every public API, CLI command and service route against generated bad inputs, in worker processes. No crash,
 * no hang, no unclear error, no silent wrong result. `npm run fuzz` runs all of it.
 */
import * as path from 'path';
import { buildCorpus } from '../../scripts/fuzz/corpus';
import { formatSummary, runCases } from '../../scripts/fuzz/runner';

const ROOT = path.join(__dirname, '..', '..');
jest.setTimeout(120_000);

test('a sample of the corpus: 0 crashes, 0 hangs, 0 unclear errors, 0 silent wrong results', async () => {
  const all = buildCorpus();
  // Every third API case (each argument still meets most kinds of bad value) and every CLI and HTTP case.
  const sample = all.filter((c, i) => c.group !== 'api' || i % 3 === 0).map(({ id, group }) => ({ id, group }));
  const summary = await runCases(sample, {
    worker: [process.execPath, path.join(ROOT, 'test', 'helpers', 'ts-run.js'), path.join(ROOT, 'scripts', 'fuzz', 'worker.ts')],
    jobs: 2,
    timeoutMs: 60_000,
  });
  expect(summary.cases).toBe(sample.length);
  expect(summary.byGroup.cli).toBeGreaterThan(50);
  expect(summary.byGroup.http).toBeGreaterThan(200);
  if (summary.failures.length) throw new Error(formatSummary(summary));
  expect({ crashes: summary.crashes, hangs: summary.hangs, unclear: summary.unclear, silent: summary.silent }).toEqual({
    crashes: 0,
    hangs: 0,
    unclear: 0,
    silent: 0,
  });
});

test('the runner tells crashes and hangs from answers', async () => {
  // A worker that reports a case, then dies in the next one, then hangs in the one after.
  const script = [
    "let ids = ''; process.stdin.on('data', (d) => (ids += d)); process.stdin.on('end', () => {",
    '  const list = JSON.parse(ids); const say = (x) => process.stdout.write(JSON.stringify(x) + "\\n");',
    "  for (const id of list) { say({ start: id }); if (id === 'crash') process.kill(process.pid, 'SIGKILL'); if (id === 'hang') for (;;); say({ end: id, outcome: id === 'bad' ? { kind: 'silent', detail: 'wrong' } : { kind: 'ok' } }); }",
    '  process.exit(0); });',
  ].join('\n');
  const summary = await runCases(
    ['ok1', 'bad', 'crash', 'ok2', 'hang', 'ok3'].map((id) => ({ id, group: 'api' as const })),
    { worker: [process.execPath, '-e', script], jobs: 1, timeoutMs: 1500 },
  );
  expect(summary).toMatchObject({ cases: 6, ok: 3, crashes: 1, hangs: 1, silent: 1, unclear: 0 });
  expect(summary.failures.map((f) => [f.id, f.verdict])).toEqual([
    ['bad', 'silent'],
    ['crash', 'crash'],
    ['hang', 'hang'],
  ]);
});
