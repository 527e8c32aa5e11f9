/** Flag parsing for the subcommands (Node's util.parseArgs), with errors that say which flag and why. */
import { parseArgs, type ParseArgsConfig } from 'util';

/** A mistake in the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Flags = Record<string, string | boolean | undefined>;

export function parseFlags(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Flags {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return values as Flags;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const msg = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(msg);
  }
}

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireStr(flags: Flags, name: string, why = ''): string {
  const v = str(flags, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required${why ? ` (${why})` : ''}`);
  return v;
}

export function intFlag(flags: Flags, name: string, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` >= ${min}`}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** minOpen: the number must be above min (e.g. a probability mass in (0, 1]). */
export function numFlag(flags: Flags, name: string, { min = -Infinity, max = Infinity, minOpen = false } = {}): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  // Plain decimal notation only (Number() also reads "0x10", "0b1" and "Infinity").
  if (!/^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?\s*$/i.test(v) || !Number.isFinite(n) || (minOpen ? n <= min : n < min) || n > max) {
    throw new UsageError(
      `--${name} must be a number${Number.isFinite(min) ? ` ${minOpen ? '>' : '>='} ${min}` : ''}${Number.isFinite(max) ? ` and <= ${max}` : ''}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** "32mb", "512k", "1048576" -> bytes. */
export function bytesFlag(flags: Flags, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(v.trim()); // trimmed first: linear time
  if (!m) throw new UsageError(`--${name} must be a size like 1048576, 512kb or 32mb, got ${JSON.stringify(v)}`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Math.floor(Number(m[1]) * mult);
  if (n < 1) throw new UsageError(`--${name} must be at least 1 byte`);
  if (n > 2 ** 40) throw new UsageError(`--${name} must be at most 1024gb, got ${JSON.stringify(v)}`);
  return n;
}
