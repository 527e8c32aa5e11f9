/**
 * One stage 1, several stage 2s: a copy of a run that continues under other stage-2 (or Voting@K) settings.
 *
 *   await train({ config, out: 'runs/base', until: 'rl' });                 // data, stage 1, difficulty
 *   await forkRun('runs/base', 'runs/lr1e-4', { ...config, rl: { ...config.rl, lr: 1e-4 } });
 *   await train({ config: forked, out: 'runs/lr1e-4', resume: true });      // stage 2 from the same checkpoint
 *
 * Only what the phases still to run read may differ: `rl.*` while stage 2 has not started, the Voting@K settings
 * until the final phase has run. Anything else would leave a run whose config.json does not say how it was made.
 */
import * as fs from 'fs';
import * as path from 'path';
import { findLatestCheckpoint, readJson, writeJsonAtomic } from './checkpoint';
import { type TrainConfig, checkConfig, configDifferences } from './config';
import { LOCK_FILE, RunFolderError, acquireLock, openRunFolder, tempOwner } from './run-folder';

/** The settings a fork may change, by the phase its source stopped before. */
const FORKABLE: Readonly<Record<string, readonly string[]>> = {
  rl: ['config.rl.', 'config.eval.votingK', 'config.eval.votingTemperature', 'config.eval.votingTopP', 'config.eval.votingLimit'],
  final: ['config.eval.votingK', 'config.eval.votingTemperature', 'config.eval.votingTopP', 'config.eval.votingLimit'],
};

/**
 * Copies run `from` (its data, results so far and latest checkpoint) into `to` (missing or empty) with
 * `config` as its config.json; `train({ config, out: to, resume: true })` then continues it. Throws a RangeError
 * naming the first setting the remaining phases cannot honour, a RunFolderError when either folder is in use.
 */
export async function forkRun(from: string, to: string, config: TrainConfig): Promise<void> {
  if (typeof from !== 'string' || from === '') throw new TypeError('forkRun: from must be a run folder path');
  if (typeof to !== 'string' || to === '') throw new TypeError('forkRun: to must be a folder path');
  const src = path.resolve(from);
  const dst = path.resolve(to);
  if (src === dst) throw new RangeError(`forkRun: to must be another folder than from (${src})`);
  checkConfig(config);
  if (!fs.existsSync(path.join(src, 'config.json'))) throw new RangeError(`forkRun: ${src} is not a run folder (no config.json)`);
  const srcLock = acquireLock(src); // no trainer may write into the source while it is copied
  try {
    const ckpt = await findLatestCheckpoint(src);
    if (!ckpt) throw new RangeError(`forkRun: ${src} has no checkpoint to continue from`);
    const allowed = FORKABLE[ckpt.state.phase];
    const changed = configDifferences(await readJson<TrainConfig>(path.join(src, 'config.json')), config).filter((d) => !d.startsWith('config.device'));
    const refused = changed.filter((d) => !(allowed ?? []).some((a) => d.startsWith(a)));
    if (refused.length)
      throw new RangeError(
        `forkRun: ${src} is at phase "${ckpt.state.phase}"; ${allowed ? `only ${allowed.map((a) => a.replace(/^config\./, '').replace(/\.$/, '.*')).join(', ')} may change` : 'nothing may change'}, not ${refused[0]}`,
      );
    const folder = openRunFolder(dst, { resume: false, force: false });
    try {
      copyRun(src, dst, ckpt.name);
      await writeJsonAtomic(path.join(dst, 'config.json'), config);
    } finally {
      folder.release();
    }
  } finally {
    srcLock.release();
  }
}

/** Copies the run folder's files, less its lock, temporary files and every checkpoint but `keep`. */
function copyRun(src: string, dst: string, keep: string): void {
  fs.cpSync(src, dst, {
    recursive: true,
    filter: (file) => {
      const rel = path.relative(src, file);
      const name = path.basename(file);
      if (rel === LOCK_FILE || tempOwner(name) !== null) return false;
      const parts = rel.split(path.sep);
      return !(parts[0] === 'checkpoints' && parts.length === 2 && name !== keep && name !== 'latest.json');
    },
  });
  if (!fs.existsSync(path.join(dst, 'checkpoints', keep))) throw new RunFolderError(`forkRun: checkpoint ${keep} was not copied`);
}
