/**
 * `stable-reinforce train`: the two-stage R1-Reward training run (lib/train/trainer.ts).
 * Exit codes: 0 done, 1 failed, 2 bad command line, 130 interrupted (a checkpoint was written; --resume continues).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULTS, type TrainConfig, type TrainConfigOverrides, checkSetting, parseConfigText, settingFlags, settingRows } from '../../train/config';
import { PRESET_NAMES, resolveTrainConfig } from '../../train/presets';
import { forkRun } from '../../train/fork';
import { type TrainOptions, UNTIL_PHASES, train } from '../../train/trainer';
import { type Flags, UsageError, parseFlags, str } from '../args';
import { progressBars } from '../progress';
import type { CliIO } from '../types';

// The flags that set a setting come with it from lib/train/config.ts (name, help, range, default).
const SETTING_FLAGS = settingFlags();
const column = (left: string, right: string) => `  ${left.padEnd(19)}${right}`;
const settingFlagLines = SETTING_FLAGS.map(({ flag, doc, range, default: d }) =>
  column(`--${flag.name}${flag.arg ? ` ${flag.arg}` : ''}`, flag.help ?? `${doc.replace(/\.$/, '')} (${range}; default ${JSON.stringify(d)})`),
);

export const usage = `Usage: stable-reinforce train [flags]

Two-stage R1-Reward training of the built-in model on the built-in data:
stage 1 supervised cold start on teacher analyses, difficulty of every training sample
(attempts needed, up to 3), stage 2 StableReinforce on the hard samples and as many guards,
greedy test accuracy along the way, Voting@K at the end, report.html + PNG plots.

${column('--preset NAME', `${PRESET_NAMES.join(' | ')} (default ${DEFAULTS.preset}; smoke = tiny, for checks)`)}
${column('--config FILE', 'JSON object overriding any setting, e.g. {"rl": {"steps": 60}} (see --help-config)')}
${column('--out DIR', 'run folder (default runs/<timestamp>)')}
${column('--resume', 'continue the run in --out (default: the newest run in runs/) from its')}
${column('', 'latest checkpoint; its saved configuration is used')}
${column('--until PHASE', 'stop before difficulty | rl | final (a checkpoint starts it; --resume or')}
${column('', '--fork-from continue from there)')}
${column('--fork-from DIR', "a new run in --out from DIR's latest checkpoint (e.g. stopped with --until rl)")}
${column('', "and DIR's configuration, changed by --config and the flags: stage 2 (rl.*)")}
${column('', 'and Voting@K may differ. One stage 1, several stage-2 settings.')}
${column('--force', 'train into a non-empty --out that is not a run (refused otherwise; what is')}
${column('', 'there may be overwritten or deleted). One trainer per folder: DIR/run.lock')}
${settingFlagLines.join('\n')}
${column('--no-progress', 'no progress bars')}
${column('--quiet', 'no progress bars and no messages (the summary is still printed)')}
${column('--help-config', 'every setting: its range, default and meaning')}

Writes to DIR: config.json, metrics.jsonl (one line per step), checkpoints/, stage1-model/,
model/ (final), difficulty.json, evals/*.json, voting.json, summary.json, report.html, plots/*.png.
Ctrl-C stops after the current step with a checkpoint; kill -9 loses at most one checkpoint interval.
Compare runs: stable-reinforce report --runs DIR1,DIR2
`;

/** --help-config: every setting, from lib/train/config.ts. */
export function settingsHelp(): string {
  const lines = ['Settings of stable-reinforce train (--config FILE sets any of them; the presets change some defaults):'];
  for (const r of settingRows()) {
    if (r.section) lines.push('', `${r.path}: ${r.doc}`);
    else lines.push(`  ${r.path} = ${JSON.stringify(r.default)}  (${r.range})`, `      ${r.doc}`);
  }
  return lines.join('\n') + '\n';
}

const OPTIONS = {
  preset: { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  until: { type: 'string' },
  'fork-from': { type: 'string' },
  force: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  quiet: { type: 'boolean' },
  'help-config': { type: 'boolean' },
  ...Object.fromEntries(SETTING_FLAGS.map(({ flag }) => [flag.name, { type: flag.arg ? 'string' : 'boolean' }])),
} as const;

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** The flags that set a setting, in config shape; each value checked as its setting checks it. */
function flagOverrides(flags: Flags): TrainConfigOverrides | undefined {
  const o: Record<string, unknown> = {};
  for (const { path: at, flag, fromText } of SETTING_FLAGS) {
    const given = flags[flag.name];
    if (given === undefined || given === false) continue;
    let value = flag.arg ? fromText(given as string) : flag.value;
    try {
      value = checkSetting(at, value, `--${flag.name}`);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let section = o;
    for (const k of at.slice(0, -1)) section = (section[k] ??= {}) as Record<string, unknown>;
    section[at[at.length - 1]] = value;
  }
  return Object.keys(o).length ? (o as TrainConfigOverrides) : undefined;
}

function newestRun(root: string): string | null {
  if (!fs.existsSync(root)) return null;
  const runs = fs
    .readdirSync(root)
    .map((e) => path.join(root, e))
    .filter((d) => fs.existsSync(path.join(d, 'config.json')))
    .map((d) => ({ d, t: fs.statSync(path.join(d, 'config.json')).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return runs[0]?.d ?? null;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, OPTIONS);
  if (flags['help-config']) {
    io.stdout.write(settingsHelp());
    return 0;
  }
  const forkFrom = str(flags, 'fork-from');
  const resume = flags.resume === true || forkFrom !== undefined;
  const quiet = flags.quiet === true;
  const until = str(flags, 'until');
  if (until !== undefined && !UNTIL_PHASES.includes(until))
    throw new UsageError(`--until must be one of ${UNTIL_PHASES.join(', ')}, got ${JSON.stringify(until)}`);
  let out = str(flags, 'out');
  if (forkFrom !== undefined) {
    if (flags.resume === true) throw new UsageError('--fork-from starts a new run: give it without --resume');
    if (out === undefined) throw new UsageError('--fork-from: give the new run folder with --out DIR');
    if (str(flags, 'preset') !== undefined) throw new UsageError("--fork-from: the run keeps DIR's preset; change settings with --config or the flags");
  }
  if (resume && out === undefined) {
    const found = newestRun(path.resolve('runs'));
    if (!found) throw new UsageError('--resume: no run found in runs/; give --out DIR');
    out = found;
  }
  out = path.resolve(out ?? path.join('runs', timestamp()));

  let fileOverrides: unknown;
  const configFile = str(flags, 'config');
  if (configFile !== undefined) {
    let text: string;
    try {
      text = await fs.promises.readFile(configFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--config: cannot read ${configFile} (${(e as Error).message})`);
    }
    try {
      fileOverrides = parseConfigText(text, configFile);
    } catch (e) {
      throw new UsageError(`--config: ${(e as Error).message}`);
    }
  }
  const overrides = flagOverrides(flags);
  const presetFlag = str(flags, 'preset');
  let config: TrainConfig;
  const storedFile = path.join(forkFrom !== undefined ? path.resolve(forkFrom) : out, 'config.json');
  if (forkFrom !== undefined && !fs.existsSync(storedFile)) throw new UsageError(`--fork-from: ${path.resolve(forkFrom)} is not a run folder (no config.json)`);
  if (resume && presetFlag === undefined && (configFile === undefined || forkFrom !== undefined) && fs.existsSync(storedFile)) {
    // Plain --resume: the run's own configuration (flags may still change the device). --fork-from: the source's,
    // changed by --config and the flags.
    let stored: TrainConfig;
    try {
      stored = JSON.parse(await fs.promises.readFile(storedFile, 'utf8')) as TrainConfig;
    } catch (e) {
      throw new UsageError(`--resume: ${storedFile} is not a readable run configuration (${(e as Error).message})`);
    }
    if (stored === null || typeof stored !== 'object') throw new UsageError(`--resume: ${storedFile} must hold a JSON object`);
    const { preset, ...rest } = stored;
    try {
      config = resolveTrainConfig(preset, rest, fileOverrides, overrides);
    } catch (e) {
      throw new UsageError(`${configFile && forkFrom !== undefined ? `--config ${configFile}: ` : `${storedFile}: `}${(e as Error).message}`);
    }
  } else {
    const preset = presetFlag ?? DEFAULTS.preset;
    if (!PRESET_NAMES.includes(preset)) throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(preset)}`);
    try {
      config = resolveTrainConfig(preset, fileOverrides, overrides);
    } catch (e) {
      throw new UsageError(`${configFile ? `--config ${configFile}: ` : ''}${(e as Error).message}`);
    }
  }

  const ac = new AbortController();
  const signals = io.signals ?? process;
  const onSignal = () => {
    if (ac.signal.aborted) return;
    io.stderr.write('\nstopping after the current step (a checkpoint will be written) ...\n');
    ac.abort();
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  const log = quiet ? undefined : (m: string) => io.stderr.write(m + '\n');
  try {
    if (!quiet) io.stderr.write(`stable-reinforce train: preset ${config.preset}, seed ${config.seed}, algo ${config.rl.algo}, out ${out}\n`);
    if (forkFrom !== undefined) {
      try {
        await forkRun(forkFrom, out, config);
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(`--fork-from: ${e.message.replace(/^forkRun: /, '')}`);
        throw e;
      }
      log?.(`forked ${path.resolve(forkFrom)} into ${out}`);
    }
    const result = await train({
      config,
      out,
      resume,
      ...(until !== undefined ? { until: until as TrainOptions['until'] } : {}),
      force: flags.force === true,
      log,
      ...(quiet || flags['no-progress'] ? {} : { onProgress: progressBars(io.stderr) }),
      signal: ac.signal,
    });
    if (result.interrupted) {
      io.stderr.write(`interrupted: checkpoint written. Continue with: stable-reinforce train --resume --out ${out}\n`);
      return 130;
    }
    if (result.stoppedAt) {
      io.stderr.write(
        `stopped before ${result.stoppedAt}. Continue with: stable-reinforce train --resume --out ${out}\n` +
          `or try other stage-2 settings from here: stable-reinforce train --fork-from ${out} --out NEW_DIR --config FILE\n`,
      );
      return 0;
    }
    const s = result.summary!;
    io.stdout.write(['', `Run ${out}`, ...s.lines, `Report: ${path.join(out, 'report.html')} (plots in ${path.join(out, 'plots')})`, ''].join('\n'));
    return 0;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}
