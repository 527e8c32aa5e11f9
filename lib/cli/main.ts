#!/usr/bin/env node
/** `stable-reinforce <command> [flags]`: dispatches to the commands listed in ./commands/index.ts. */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from './args';
import { COMMANDS } from './commands';
import type { CliIO } from './types';

function version(): string {
  // package.json is two (lib/cli) or three (dist/lib/cli) folders up.
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'stable-reinforce') return String(pkg.version);
    } catch {
      /* keep looking */
    }
  }
  return 'unknown';
}

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: stable-reinforce <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `stable-reinforce <command> --help` for the flags of a command.',
    'Flags: --help, --version. Set STABLE_REINFORCE_DEBUG=1 to print stack traces.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic) return main([topic, '--help'], io);
    io.stdout.write(mainUsage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(version() + '\n');
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`stable-reinforce: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}\n`);
    return 2;
  }
  const mod = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(mod.usage.trimEnd() + '\n');
    return 0;
  }
  try {
    return await mod.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`stable-reinforce ${name}: ${error.message}\nRun \`stable-reinforce ${name} --help\` for usage.\n`);
      return 2;
    }
    const e = error as Error;
    io.stderr.write(`stable-reinforce ${name}: error: ${e?.message ?? String(error)}\n`);
    if (io.env.STABLE_REINFORCE_DEBUG && e?.stack) io.stderr.write(e.stack + '\n');
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`stable-reinforce: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
