/**
 * Runs the fuzz corpus in worker processes and counts what happened: each worker takes a share of the cases and
 * reports them one by one; a worker that dies during a case is a crash of that case, one that reports nothing for
 * `timeoutMs` during a case is killed and the case is a hang. The cases after it go to a new worker.
 */
import { spawn } from 'child_process';
import * as os from 'os';
import type { Group, Outcome } from './corpus';

export type Verdict = 'ok' | 'crash' | 'hang' | 'unclear' | 'silent';

export interface CaseResult {
  id: string;
  group: Group;
  verdict: Verdict;
  detail?: string;
}

export interface FuzzSummary {
  cases: number;
  byGroup: Record<Group, number>;
  ok: number;
  crashes: number;
  hangs: number;
  unclear: number;
  silent: number;
  wallSeconds: number;
  date: string;
  cpu: string;
  failures: CaseResult[];
}

export interface RunOptions {
  /** The command that starts a worker (node and worker.js, or a TypeScript loader and worker.ts). */
  worker: string[];
  /** Workers at once (default 2). */
  jobs?: number;
  /** A case reporting nothing for this long is a hang (default 30000 ms). */
  timeoutMs?: number;
  onResult?: (r: CaseResult) => void;
}

/** Runs `cases` (id and group, in corpus order) and summarises. */
export async function runCases(cases: ReadonlyArray<{ id: string; group: Group }>, options: RunOptions): Promise<FuzzSummary> {
  const t0 = Date.now();
  const jobs = Math.max(1, options.jobs ?? 2);
  const timeoutMs = options.timeoutMs ?? 30000;
  const groupOf = new Map(cases.map((c) => [c.id, c.group]));
  const results: CaseResult[] = [];
  const record = (id: string, verdict: Verdict, detail?: string) => {
    const r: CaseResult = { id, group: groupOf.get(id)!, verdict, ...(detail ? { detail } : {}) };
    results.push(r);
    options.onResult?.(r);
  };
  // Each share goes to one worker; after a crash or hang the rest of the share goes to a fresh one.
  const shares: string[][] = Array.from({ length: jobs }, () => []);
  cases.forEach((c, i) => shares[i % jobs].push(c.id));
  const runShare = async (ids: string[]) => {
    let rest = ids;
    while (rest.length > 0) rest = await runWorker(rest, options.worker, timeoutMs, record);
  };
  await Promise.all(shares.map(runShare));
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const byGroup = { api: 0, cli: 0, http: 0 } as Record<Group, number>;
  for (const c of cases) byGroup[c.group]++;
  return {
    cases: results.length,
    byGroup,
    ok: count('ok'),
    crashes: count('crash'),
    hangs: count('hang'),
    unclear: count('unclear'),
    silent: count('silent'),
    wallSeconds: (Date.now() - t0) / 1000,
    date: new Date().toISOString(),
    cpu: `${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} threads)`,
    failures: results.filter((r) => r.verdict !== 'ok'),
  };
}

/** Runs `ids` in one worker; returns the ids it did not get to (after a crash or a hang). */
function runWorker(ids: string[], command: string[], timeoutMs: number, record: (id: string, v: Verdict, detail?: string) => void): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const done = new Set<string>();
    let current: string | null = null;
    let hung = false;
    let stderr = '';
    let buffer = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, timeoutMs);
    };
    arm();
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg: { start?: string; end?: string; outcome?: Outcome };
        try {
          msg = JSON.parse(line);
        } catch {
          continue; // a stray line (a library's own output)
        }
        if (msg.start) {
          current = msg.start;
          arm();
        } else if (msg.end && msg.outcome) {
          done.add(msg.end);
          current = null;
          arm();
          const o = msg.outcome;
          record(msg.end, o.kind, o.kind === 'ok' ? undefined : o.detail);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-2000)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (current !== null) {
        record(
          current,
          hung ? 'hang' : 'crash',
          hung ? `no report for ${timeoutMs / 1000} s` : `the worker died (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-500)}`,
        );
        done.add(current);
      } else if (code !== 0 && done.size < ids.length) {
        // Died between cases (or before the first): the next case is blamed, so that the run moves on.
        const next = ids.find((id) => !done.has(id))!;
        record(next, hung ? 'hang' : 'crash', `the worker died before the case (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-500)}`);
        done.add(next);
      }
      resolve(ids.filter((id) => !done.has(id)));
    });
    child.stdin.end(JSON.stringify(ids));
  });
}

/** The summary as a few lines of text. */
export function formatSummary(s: FuzzSummary): string {
  const lines = [
    `fuzz corpus: ${s.cases} cases (api ${s.byGroup.api}, cli ${s.byGroup.cli}, http ${s.byGroup.http}) in ${s.wallSeconds.toFixed(1)} s on ${s.cpu}`,
    `  ok ${s.ok}, crashes ${s.crashes}, hangs ${s.hangs}, unclear errors ${s.unclear}, silent wrong results ${s.silent}`,
  ];
  for (const f of s.failures.slice(0, 50)) lines.push(`  ${f.verdict.padEnd(7)} ${f.id}: ${(f.detail ?? '').replace(/\s+/g, ' ').slice(0, 300)}`);
  if (s.failures.length > 50) lines.push(`  ... ${s.failures.length - 50} more`);
  return lines.join('\n');
}
