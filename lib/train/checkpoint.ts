/**
 * Checkpoints of a training run, written so that a kill -9 at any moment
 * leaves either the previous checkpoint or the new one, never half of one:
 *
 *   OUT/checkpoints/.tmp-<name>-<pid>/   written and fsynced first
 *   OUT/checkpoints/<name>/              then renamed into place (atomic on POSIX)
 *   OUT/checkpoints/latest.json          then the pointer is replaced (temp file + rename)
 *
 * A checkpoint holds the model (config.json + model.safetensors), the AdamW
 * moments and step count (optimizer.safetensors), and state.json: phase,
 * step, the RNG state, the curriculum position, and the byte length of
 * metrics.jsonl at that moment (resume cuts the file back to it, so no step is
 * logged twice and none is skipped).
 */
import * as fs from 'fs';
import * as path from 'path';
import { AdamW } from '../model/adamw';
import { PolicyModel } from '../model/policy-model';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from '../model/safetensors';
import type { Results } from './types';

export const CHECKPOINT_VERSION = 1;

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, async (fh) => {
    await fh.write(JSON.stringify(value, null, 2) + '\n');
  });
}

export async function readJson<T>(file: string): Promise<T> {
  const text = await fs.promises.readFile(file, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes a rename durable; some file systems refuse to open a directory, which is harmless here.
  try {
    const fh = await fs.promises.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

// ---- optimizer state -----------------------------------------------------------------------------

export async function saveOptimizer(file: string, opt: AdamW): Promise<void> {
  const st = opt.state();
  const tensors = st.moments.flatMap(({ name, m, v }) => [
    { name: `m.${name}`, shape: [m.length], data: m },
    { name: `v.${name}`, shape: [v.length], data: v },
  ]);
  await saveSafetensors(file, tensors, { stepCount: String(st.stepCount), lr: String(opt.lr) });
}

export async function loadOptimizer(file: string, opt: AdamW, model: PolicyModel, stepCount: number): Promise<void> {
  const saved = await loadSafetensors(file);
  const moments = model.parameters().map((p) => {
    const get = (kind: 'm' | 'v') => {
      const t = saved.get(`${kind}.${p.name}`);
      if (!t) throw new RangeError(`${file} lacks the optimizer moment ${kind}.${p.name}`);
      return t.data;
    };
    return { name: p.name, m: get('m'), v: get('v') };
  });
  opt.loadState({ stepCount, moments });
}

// ---- checkpoints ----------------------------------------------------------------------------------

export type Phase = 'sft' | 'difficulty' | 'rl' | 'final' | 'done';

export interface CheckpointState {
  version: number;
  /** The phase to continue with, and the number of its steps already done. */
  phase: Phase;
  step: number;
  /** AdamW steps taken (skipped steps excluded). */
  optimizerSteps: number;
  /**
   * All randomness of a run is drawn from generators derived from (seed, purpose, step), so this is the
   * whole RNG state: resuming at `step` draws exactly what the uninterrupted run drew.
   */
  rng: { seed: number; scheme: 'derived(seed, purpose, step)'; nextStep: number };
  /** Position in the RL curriculum: the next batch is curriculum.batch(curriculumStep). */
  curriculumStep: number;
  /** metrics.jsonl length (bytes, lines) when the checkpoint was taken. */
  metricsBytes: number;
  metricsLines: number;
  /** Seconds spent per phase so far (wall clock, across resumes). */
  seconds: Record<string, number>;
  /** Vision warm-up: its length once it has ended (vision.untilLoss can end it early), and its recent losses. */
  visionSteps?: number;
  visionLosses?: number[];
  /** The results carried across the run (evaluations, difficulty summary, ...). */
  results: Results;
  createdAt: string;
}

export interface LatestPointer {
  checkpoint: string;
  phase: Phase;
  step: number;
  createdAt: string;
}

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

/** Writes checkpoint `name` atomically, points latest.json at it, and removes older ones (keeping `keep`). */
export async function saveCheckpoint(
  runDir: string,
  name: string,
  model: PolicyModel,
  opt: AdamW | null,
  state: CheckpointState,
  keep: readonly string[] = [],
): Promise<string> {
  const root = checkpointsDir(runDir);
  await fs.promises.mkdir(root, { recursive: true });
  const tmp = path.join(root, `.tmp-${name}-${process.pid}`);
  await fs.promises.rm(tmp, { recursive: true, force: true });
  await model.save(path.join(tmp, 'model'));
  if (opt) await saveOptimizer(path.join(tmp, 'optimizer.safetensors'), opt);
  await writeJsonAtomic(path.join(tmp, 'state.json'), state);
  await fsyncDir(tmp);
  const final = path.join(root, name);
  if (fs.existsSync(final)) {
    // Same name again (a phase end re-taken after a resume): move the old one aside first, so that a crash
    // between the two renames still leaves latest.json pointing at a complete folder... or at nothing,
    // which resume handles by falling back to the newest complete checkpoint.
    const old = path.join(root, `.old-${name}-${process.pid}`);
    await fs.promises.rm(old, { recursive: true, force: true });
    await fs.promises.rename(final, old);
    await fs.promises.rename(tmp, final);
    await fs.promises.rm(old, { recursive: true, force: true });
  } else {
    await fs.promises.rename(tmp, final);
  }
  await fsyncDir(root);
  const pointer: LatestPointer = { checkpoint: name, phase: state.phase, step: state.step, createdAt: state.createdAt };
  await writeJsonAtomic(path.join(root, 'latest.json'), pointer);
  for (const entry of await fs.promises.readdir(root)) {
    if (entry === name || entry === 'latest.json' || keep.includes(entry)) continue;
    if (entry.startsWith('.tmp-') && entry.endsWith(`-${process.pid}`)) continue;
    await fs.promises.rm(path.join(root, entry), { recursive: true, force: true });
  }
  return final;
}

export interface LoadedCheckpoint {
  name: string;
  dir: string;
  state: CheckpointState;
}

async function isComplete(dir: string): Promise<boolean> {
  for (const f of ['state.json', 'model/config.json', 'model/model.safetensors']) {
    if (!fs.existsSync(path.join(dir, f))) return false;
  }
  return true;
}

/** The checkpoint latest.json points at (or, if the pointer is missing or stale, the newest complete one). */
export async function findLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint | null> {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return null;
  const candidates: string[] = [];
  const pointerFile = path.join(root, 'latest.json');
  if (fs.existsSync(pointerFile)) candidates.push((await readJson<LatestPointer>(pointerFile)).checkpoint);
  const others = (await fs.promises.readdir(root)).filter((e) => !e.startsWith('.') && e !== 'latest.json');
  const withTime = await Promise.all(
    others.map(async (e) => ({ e, t: (await fs.promises.stat(path.join(root, e))).mtimeMs })),
  );
  candidates.push(...withTime.sort((a, b) => b.t - a.t).map((x) => x.e));
  for (const name of candidates) {
    const dir = path.join(root, name);
    if (!(await isComplete(dir))) continue;
    const state = await readJson<CheckpointState>(path.join(dir, 'state.json'));
    if (state.version !== CHECKPOINT_VERSION) throw new Error(`${dir}: checkpoint version ${state.version}, this version reads ${CHECKPOINT_VERSION}`);
    return { name, dir, state };
  }
  return null;
}

/** Cuts metrics.jsonl back to `bytes` (what it held at the checkpoint). */
export async function truncateFile(file: string, bytes: number): Promise<void> {
  if (!fs.existsSync(file)) {
    if (bytes > 0) throw new Error(`${file} is missing but the checkpoint recorded ${bytes} bytes of it`);
    return;
  }
  const size = (await fs.promises.stat(file)).size;
  if (size < bytes) throw new Error(`${file} has ${size} bytes, fewer than the ${bytes} the checkpoint recorded`);
  if (size > bytes) await fs.promises.truncate(file, bytes);
}
