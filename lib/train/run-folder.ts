/**
 * The rules of a run folder (`train --out DIR`), so that no run destroys or corrupts another's data:
 *
 *  - One trainer at a time: DIR/run.lock holds the owner's pid, host, process start time and a random token,
 *    created atomically (a complete file hard-linked into place). A lock whose process is gone (on this host) is
 *    stale and taken over; a live owner is a clear error. The lock is advisory: it guards against a second
 *    `train` on the same folder, not against other programs writing there.
 *  - A new run goes into a folder that is missing or empty; a non-empty folder that is not a run of ours is
 *    refused unless `force` (the run may overwrite or delete what is there). A folder holding a run
 *    (config.json) is continued with `resume`, never restarted over.
 *  - `resume` needs a run of ours: a missing folder, or one without config.json, is an error.
 *  - Temporary files left by killed processes are removed, safely: only the names this library writes, and only
 *    when the pid in the name is not a live process on this host. A model folder caught between the two renames
 *    of saveModelAtomic is put back.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { PolicyModel } from '../model/policy-model';

export const LOCK_FILE = 'run.lock';

/** What a run folder error is about; the message says what to do. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

interface LockInfo {
  pid: number;
  host: string;
  /** Process start time (Linux /proc ticks), to tell a reused pid from the owner; null elsewhere. */
  start: string | null;
  token: string;
  since: string;
}

/** The start time of process `pid` from /proc (Linux), or null where it cannot be read. */
function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count from after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Is `pid` a live process on this host (and, when `start` is known, the same process that wrote it)? */
export function processAlive(pid: number, start: string | null = null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else.
  }
  if (start !== null) {
    const now = processStart(pid);
    if (now !== null && now !== start) return false; // the pid was reused by another process
  }
  return true;
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return typeof v?.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string' ? v : null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    return null; // not ours, or damaged: treated as held (the error says how to remove it)
  }
}

function isStale(info: LockInfo | null): boolean {
  return info !== null && info.host === os.hostname() && !processAlive(info.pid, info.start);
}

function lockedError(dir: string, info: LockInfo | null): RunFolderError {
  const file = path.join(dir, LOCK_FILE);
  const who = info ? `trainer pid ${info.pid} on ${info.host}, since ${info.since}` : `an unreadable lock`;
  return new RunFolderError(
    `${dir} is in use by another run (${who}): two trainers on one folder would corrupt it. ` +
      `Wait for it to end, or choose another --out; if no trainer is running there, remove ${file}.`,
  );
}

/**
 * Takes DIR/run.lock for this process. A stale lock (its process is gone) is taken over; a live one is a
 * RunFolderError naming the owner.
 */
export function acquireLock(dir: string): { token: string; release(): void } {
  const file = path.join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    start: processStart(process.pid),
    token: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
  };
  // Written whole under a private name, then hard-linked into place: link() fails if the lock exists, and a
  // reader never sees half a lock.
  const tmp = path.join(dir, `.${LOCK_FILE}.${process.pid}.${info.token}`);
  fs.writeFileSync(tmp, JSON.stringify(info) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let held: LockInfo | null;
      try {
        held = readLock(file);
      } catch {
        continue; // removed meanwhile: try again
      }
      if (!isStale(held) || attempt >= 3) throw lockedError(dir, held);
      // Take the stale lock over: move it aside (atomic, so of two takers only one gets it) and check that what
      // was moved is the stale lock that was read, not a fresh one taken meanwhile (that is put back).
      const aside = path.join(dir, `.${LOCK_FILE}.stale-${process.pid}`);
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = (() => {
        try {
          return readLock(aside);
        } catch {
          return null;
        }
      })();
      if (moved?.token !== held!.token) {
        try {
          fs.linkSync(aside, file);
        } catch {
          /* someone holds it now: the next attempt reports them */
        }
      }
      fs.rmSync(aside, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return {
    token: info.token,
    release() {
      // Only our own lock: after a takeover by someone else (it was stale to them), theirs stays.
      try {
        if (readLock(file)?.token === info.token) fs.rmSync(file, { force: true });
      } catch {
        /* gone already */
      }
    },
  };
}

/** Throws unless DIR's lock is absent or held by this process (a checkpoint must not write into a taken-over folder). */
export function assertLockHeld(dir: string): void {
  const file = path.join(dir, LOCK_FILE);
  let info: LockInfo | null;
  try {
    info = readLock(file);
  } catch {
    return; // no lock: library use without train()
  }
  if (info === null || info.pid !== process.pid || info.host !== os.hostname()) {
    throw new RunFolderError(
      `${dir}: the run lock is now held by ${info ? `pid ${info.pid} on ${info.host}` : 'someone else'}; stopping before writing into the folder`,
    );
  }
}

// ---- temporary files -----------------------------------------------------------------------------

/** The temporary names this library writes in a run folder, each with the writer's pid in group 1. */
const TEMP_PATTERNS: readonly RegExp[] = [
  /^\..+\.tmp-(\d+)-[a-z0-9]*$/, // writeFileAtomic (lib/model/safetensors.ts): .NAME.tmp-PID-RANDOM
  /^(?:model|stage1-model)\.(?:tmp|old)-(\d+)$/, // saveModelAtomic below
  /^\.(?:tmp|old|del)-.+-(\d+)$/, // checkpoint folders being written, replaced or deleted (checkpoint.ts)
  /^\.run\.lock\.(\d+)\.[0-9a-f]+$/, // acquireLock's private copy
  /^\.run\.lock\.stale-(\d+)$/,
];

/** The pid a temporary name of ours was written by, or null when the name is not one of ours. */
export function tempOwner(name: string): number | null {
  for (const re of TEMP_PATTERNS) {
    const m = re.exec(name);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * Removes the temporary files and folders that killed processes left in a run folder (and one level of its
 * checkpoints, evals, plots, model folders): only our names, only when their writer is gone. A model folder
 * whose replacement was cut between its two renames (`X` missing, `X.old-PID` there) is put back first.
 * Returns the removed paths.
 */
export function cleanStaleTemps(dir: string, maxDepth = 3): string[] {
  const removed: string[] = [];
  const visit = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      const pid = tempOwner(e.name);
      if (pid !== null && !processAlive(pid)) {
        const m = /^(model|stage1-model)\.old-\d+$/.exec(e.name);
        if (m && depth === 0 && !fs.existsSync(path.join(d, m[1]))) {
          fs.renameSync(p, path.join(d, m[1])); // the previous complete model comes back
          continue;
        }
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } else if (e.isDirectory() && depth < maxDepth && e.name !== 'images') visit(p, depth + 1);
    }
  };
  visit(dir, 0);
  return removed;
}

/**
 * model.save into a temporary folder, then renames: readers never see a half-written model. A kill between the
 * two renames leaves `dir.old-PID` and no `dir`: cleanStaleTemps puts the old one back.
 */
export async function saveModelAtomic(model: PolicyModel, dir: string): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await fs.promises.rm(tmp, { recursive: true, force: true });
  await model.save(tmp);
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) await fs.promises.rename(dir, old);
  await fs.promises.rename(tmp, dir);
  await fs.promises.rm(old, { recursive: true, force: true });
}

// ---- opening a run folder ------------------------------------------------------------------------

export interface RunFolder {
  readonly dir: string;
  /** Temporaries of killed processes removed on opening. */
  readonly cleaned: readonly string[];
  /** Gives the lock back (idempotent). */
  release(): void;
}

export interface OpenRunFolderOptions {
  /** Continue the run in the folder: it must exist and hold config.json. */
  resume: boolean;
  /** Train into a non-empty folder that is not a run (what is there may be overwritten or deleted). */
  force?: boolean;
}

/**
 * Checks and locks a run folder for `train`: creates it for a new run, takes the lock, applies the emptiness
 * rule and removes stale temporaries. Every refusal is a RunFolderError that says what to do.
 */
export function openRunFolder(dir: string, options: OpenRunFolderOptions): RunFolder {
  const configFile = path.join(dir, 'config.json');
  if (options.resume) {
    if (!fs.existsSync(dir)) throw new RunFolderError(`--resume: ${dir} does not exist; start a new run without --resume`);
    if (!fs.statSync(dir).isDirectory()) throw new RunFolderError(`--resume: ${dir} is not a folder`);
    if (!fs.existsSync(configFile)) throw new RunFolderError(`--resume: ${dir} is not a run folder (no config.json); start a new run without --resume`);
  } else {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new RunFolderError(`--out: ${dir} exists and is not a folder`);
    fs.mkdirSync(dir, { recursive: true });
  }
  const lock = acquireLock(dir);
  try {
    if (!options.resume) {
      if (fs.existsSync(configFile)) throw new RunFolderError(`${dir} already holds a run (config.json); continue it with --resume, or choose another --out`);
      const others = fs.readdirSync(dir).filter((e) => e !== LOCK_FILE && !(tempOwner(e) !== null && !processAlive(tempOwner(e)!)));
      if (others.length > 0 && !options.force) {
        const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, ... (${others.length} entries)` : '');
        throw new RunFolderError(
          `--out: ${dir} is not empty and is not a run of stable-reinforce (it holds ${shown}); choose a new or empty folder, ` +
            `or pass --force to train into it (the run writes data/, model/, checkpoints/ ... there and may overwrite or delete what they hold)`,
        );
      }
    }
    const cleaned = cleanStaleTemps(dir);
    return { dir, cleaned, release: () => lock.release() };
  } catch (e) {
    lock.release();
    throw e;
  }
}
