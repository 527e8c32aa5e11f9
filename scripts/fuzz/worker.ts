/**
 * A fuzz worker: runs the corpus cases whose ids arrive on stdin (one JSON array), one after another, and
 * reports each on stdout as JSON lines: {"start": id} before it, {"end": id, "outcome": ...} after it. A crash or
 * a hang is what the runner sees when the reports stop (runner.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildCorpus, startService, type Env } from './corpus';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function mainWorker(): Promise<void> {
  const ids = new Set(JSON.parse(await readStdin()) as string[]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-fuzz-'));
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  const env: Env = {
    tmp,
    service: async () => (service ??= await startService(tmp)),
  };
  const say = (line: unknown) => process.stdout.write(JSON.stringify(line) + '\n');
  try {
    for (const c of buildCorpus()) {
      if (!ids.has(c.id)) continue;
      say({ start: c.id });
      let outcome;
      try {
        outcome = await c.run(env);
      } catch (e) {
        outcome = { kind: 'unclear', detail: `the case itself failed: ${(e as Error)?.stack ?? e}` };
      }
      say({ end: c.id, outcome });
    }
  } finally {
    await (service as { close(): Promise<void> } | null)?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

mainWorker().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String((e as Error)?.stack ?? e) + '\n');
    process.exit(3);
  },
);
