/**
 * `stable-reinforce train`: the two-stage R1-Reward training run (lib/train/trainer.ts).
 * Exit codes: 0 done, 1 failed, 2 bad command line, 130 interrupted (a checkpoint was written; --resume continues).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ALGOS, DEVICES, PRESET_NAMES, TrainConfig, TrainConfigOverrides, parseConfigText, resolveTrainConfig } from '../../train/config';
import { train } from '../../train/trainer';
import { Flags, UsageError, intFlag, parseFlags, str } from '../args';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce train [flags]

Two-stage R1-Reward training of the built-in model on the built-in data:
stage 1 supervised cold start on teacher analyses, difficulty of every training sample
(attempts needed, up to 3), stage 2 StableReinforce on the hard samples with a curriculum,
greedy test accuracy along the way, Voting@K at the end, report.html + PNG plots.

  --preset NAME        ${PRESET_NAMES.join(' | ')} (default demo; smoke = tiny, for checks)
  --config FILE        JSON object overriding any preset field, e.g. {"rl": {"steps": 60}}
  --device D           auto | cpu | cuda (default auto = CPU: the model's CUDA path is not verified on a GPU yet)
  --out DIR            run folder (default runs/<timestamp>)
  --resume             continue the run in --out (default: the newest run in runs/) from its
                       latest checkpoint; its saved configuration is used
  --force              train into a non-empty --out that is not a run (refused otherwise; what is
                       there may be overwritten or deleted). One trainer per folder: DIR/run.lock
  --seed N             seed of everything (data, initialisation, sampling); default 0
  --algo A             ${ALGOS.join(' | ')} (default stable-reinforce)
  --no-preclip         ablation: no Pre-CLIP of the probability ratio
  --no-filter          ablation: no Advantage Filter (plain global normalisation)
  --no-consistency     ablation: no consistency reward (R = Result + 0.5 Format)
  --no-progress        no progress bars
  --quiet              no progress bars and no messages (the summary is still printed)

Writes to DIR: config.json, metrics.jsonl (one line per step), checkpoints/, stage1-model/,
model/ (final), difficulty.json, evals/*.json, voting.json, summary.json, report.html, plots/*.png.
Ctrl-C stops after the current step with a checkpoint; kill -9 loses at most one checkpoint interval.
Compare runs: stable-reinforce report --runs DIR1,DIR2
`;

const OPTIONS = {
  preset: { type: 'string' },
  config: { type: 'string' },
  device: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  force: { type: 'boolean' },
  seed: { type: 'string' },
  algo: { type: 'string' },
  'no-preclip': { type: 'boolean' },
  'no-filter': { type: 'boolean' },
  'no-consistency': { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Flags that change the configuration, in config shape. */
function flagOverrides(flags: Flags): TrainConfigOverrides | undefined {
  const o: TrainConfigOverrides = {};
  const rl: NonNullable<TrainConfigOverrides['rl']> = {};
  const device = str(flags, 'device');
  if (device !== undefined) {
    if (!(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got ${JSON.stringify(device)}`);
    o.device = device as TrainConfig['device'];
  }
  const seed = intFlag(flags, 'seed', { min: 0 });
  if (seed !== undefined) o.seed = seed;
  const algo = str(flags, 'algo');
  if (algo !== undefined) {
    if (!(ALGOS as readonly string[]).includes(algo)) throw new UsageError(`--algo must be one of ${ALGOS.join(', ')}, got ${JSON.stringify(algo)}`);
    rl.algo = algo as TrainConfig['rl']['algo'];
  }
  if (flags['no-preclip']) rl.preClip = false;
  if (flags['no-filter']) rl.filter = false;
  if (flags['no-consistency']) rl.consistency = false;
  if (Object.keys(rl).length) o.rl = rl;
  return Object.keys(o).length ? o : undefined;
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
  const resume = flags.resume === true;
  const quiet = flags.quiet === true;
  let out = str(flags, 'out');
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
  const storedFile = path.join(out, 'config.json');
  if (resume && presetFlag === undefined && configFile === undefined && fs.existsSync(storedFile)) {
    // Plain --resume: the run's own configuration (flags may still change the device).
    let stored: TrainConfig;
    try {
      stored = JSON.parse(await fs.promises.readFile(storedFile, 'utf8')) as TrainConfig;
    } catch (e) {
      throw new UsageError(`--resume: ${storedFile} is not a readable run configuration (${(e as Error).message})`);
    }
    if (stored === null || typeof stored !== 'object') throw new UsageError(`--resume: ${storedFile} must hold a JSON object`);
    const { preset, ...rest } = stored;
    try {
      config = resolveTrainConfig(preset, rest, overrides);
    } catch (e) {
      throw new UsageError(`${storedFile}: ${(e as Error).message}`);
    }
  } else {
    const preset = presetFlag ?? 'demo';
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
    const result = await train({
      config,
      out,
      resume,
      force: flags.force === true,
      log,
      progress: quiet || flags['no-progress'] ? null : io.stderr,
      signal: ac.signal,
    });
    if (result.interrupted) {
      io.stderr.write(`interrupted: checkpoint written. Continue with: stable-reinforce train --resume --out ${out}\n`);
      return 130;
    }
    const s = result.summary!;
    io.stdout.write(['', `Run ${out}`, ...s.lines, `Report: ${path.join(out, 'report.html')} (plots in ${path.join(out, 'plots')})`, ''].join('\n'));
    return 0;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}
