/** What a subcommand module exports, and what it gets to run. */
import type { ProgressStream } from './progress';

export interface CliIO {
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
  env: NodeJS.ProcessEnv;
  /** Where SIGINT/SIGTERM arrive (default: process). Tests pass an EventEmitter. */
  signals?: { on(event: 'SIGINT' | 'SIGTERM', fn: () => void): unknown; off(event: 'SIGINT' | 'SIGTERM', fn: () => void): unknown };
}

export interface CommandModule {
  /** Full help text, printed by `stable-reinforce <name> --help`. */
  usage: string;
  /** Runs the command; resolves to the exit code. Throw UsageError for a bad command line. */
  run(argv: string[], io: CliIO): Promise<number>;
}

export interface CommandEntry {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Loaded only when the command runs, so `--help` stays fast. */
  load: () => Promise<CommandModule>;
}
