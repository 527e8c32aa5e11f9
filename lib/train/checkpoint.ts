/**
 * Checkpoints of a training run, laid out so that a kill -9 at any point of a write resumes from the newest
 * complete checkpoint:
 *
 *   OUT/checkpoints/.tmp-<seq>-<name>-<pid>/  written and fsynced first (invisible to resume)
 *   OUT/checkpoints/<seq>-<name>/              then renamed into place: a name never used before, so no
 *                                              complete checkpoint is ever replaced or moved aside
 *   OUT/checkpoints/latest.json                then the pointer (temp file + rename), for people and tools
 *   older <seq>-* folders                      then renamed to .del-... and removed
 *
 * `seq` is one more than the highest in the folder: resume takes the complete checkpoint with the highest
 * `seq` (a folder without the `.` prefix is complete, it only appears by the rename), whatever latest.json says.
 * Temporaries of killed writers are removed by the run folder's clean-up (run-folder.ts).
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
import { assertLockHeld } from './run-folder';

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

/** The state of a run that has done nothing yet (a new run's, before its first checkpoint). */
export function initialCheckpointState(seed: number): CheckpointState {
  return {
    version: CHECKPOINT_VERSION,
    phase: 'sft',
    step: 0,
    optimizerSteps: 0,
    rng: { seed, scheme: 'derived(seed, purpose, step)', nextStep: 0 },
    curriculumStep: 0,
    metricsBytes: 0,
    metricsLines: 0,
    seconds: {},
    results: { evals: [], skippedUpdates: 0 },
    createdAt: new Date().toISOString(),
  };
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

/** `<seq>-<name>`: the folder of a complete checkpoint. */
const CHECKPOINT_DIR = /^(\d{6,})-(.+)$/;

/** The points of a checkpoint write, in order (crash tests stop the process at each). */
export type CheckpointWritePoint =
  | 'tmp-created'
  | 'model-written'
  | 'optimizer-written'
  | 'state-written'
  | 'tmp-synced'
  | 'renamed'
  | 'root-synced'
  | 'pointer-written'
  | 'old-moved'
  | 'old-removed';

/**
 * Writes checkpoint `name` as a new folder `<seq>-<name>`, points latest.json at it, and removes the older ones
 * (keeping those whose folder or name is in `keep`). Returns the folder. `onPoint` (tests) is awaited after each
 * step of the write.
 */
export async function saveCheckpoint(
  runDir: string,
  name: string,
  model: PolicyModel,
  opt: AdamW | null,
  state: CheckpointState,
  keep: readonly string[] = [],
  onPoint: (point: CheckpointWritePoint) => void | Promise<void> = () => undefined,
): Promise<string> {
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new RangeError(`checkpoint name must be a plain file name, got ${JSON.stringify(name)}`);
  assertLockHeld(runDir);
  const root = checkpointsDir(runDir);
  await fs.promises.mkdir(root, { recursive: true });
  const entries = await fs.promises.readdir(root);
  const seq = 1 + entries.reduce((m, e) => Math.max(m, Number(CHECKPOINT_DIR.exec(e)?.[1] ?? 0)), 0);
  const folder = `${String(seq).padStart(6, '0')}-${name}`;
  const tmp = path.join(root, `.tmp-${folder}-${process.pid}`);
  await fs.promises.rm(tmp, { recursive: true, force: true });
  await fs.promises.mkdir(tmp);
  await onPoint('tmp-created');
  await model.save(path.join(tmp, 'model'));
  await onPoint('model-written');
  if (opt) await saveOptimizer(path.join(tmp, 'optimizer.safetensors'), opt);
  await onPoint('optimizer-written');
  await writeJsonAtomic(path.join(tmp, 'state.json'), state);
  await onPoint('state-written');
  await fsyncDir(path.join(tmp, 'model'));
  await fsyncDir(tmp);
  await onPoint('tmp-synced');
  const final = path.join(root, folder);
  await fs.promises.rename(tmp, final);
  await onPoint('renamed');
  await fsyncDir(root);
  await onPoint('root-synced');
  const pointer: LatestPointer = { checkpoint: folder, phase: state.phase, step: state.step, createdAt: state.createdAt };
  await writeJsonAtomic(path.join(root, 'latest.json'), pointer);
  await onPoint('pointer-written');
  // Older complete checkpoints (and ones of the layout before the sequence numbers) go; temporaries are the
  // run folder clean-up's. Each is renamed away first, so a half-removed folder is never taken for complete.
  for (const entry of entries) {
    if (entry.startsWith('.') || entry === 'latest.json') continue;
    if (keep.includes(entry) || keep.includes(CHECKPOINT_DIR.exec(entry)?.[2] ?? entry)) continue;
    const doomed = path.join(root, `.del-${entry}-${process.pid}`);
    await fs.promises.rename(path.join(root, entry), doomed);
    await onPoint('old-moved');
    await fs.promises.rm(doomed, { recursive: true, force: true });
    await onPoint('old-removed');
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

/**
 * The newest complete checkpoint: the `<seq>-<name>` folder with the highest seq. Run folders of the layout before
 * sequence numbers: the folder latest.json names, else the newest complete one by time.
 */
export async function findLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint | null> {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return null;
  const entries = (await fs.promises.readdir(root)).filter((e) => !e.startsWith('.') && e !== 'latest.json');
  const numbered = entries.filter((e) => CHECKPOINT_DIR.test(e)).sort((a, b) => Number(CHECKPOINT_DIR.exec(b)![1]) - Number(CHECKPOINT_DIR.exec(a)![1]));
  const candidates = [...numbered];
  const legacy = entries.filter((e) => !CHECKPOINT_DIR.test(e));
  if (legacy.length) {
    const pointerFile = path.join(root, 'latest.json');
    if (fs.existsSync(pointerFile)) candidates.push((await readJson<LatestPointer>(pointerFile)).checkpoint);
    const withTime = await Promise.all(legacy.map(async (e) => ({ e, t: (await fs.promises.stat(path.join(root, e))).mtimeMs })));
    candidates.push(...withTime.sort((a, b) => b.t - a.t).map((x) => x.e));
  }
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
