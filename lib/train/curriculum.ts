/**
 * Sample difficulty the R1-Reward way, and a difficulty curriculum for the RL stage.
 *
 * Difficulty (paper): a model samples up to `maxAttempts` (3) verdicts for a
 * sample, stopping at the first right one. The number of attempts it needed is
 * the difficulty: 1, 2, 3, or `maxAttempts + 1` when all failed. Hard =
 * needed >= 2 or failed all; only hard samples go to the RL stage.
 *
 * Curriculum: the RL sampling pool grows over the steps, from the easiest
 * bucket to all of them. Buckets are the values of a key of each item: its
 * synthetic `level` (0-4) or its `hardness` (the difficulty above). Schedules:
 *   - none:   every bucket from step 0;
 *   - linear: `start` buckets at step 0, one more at equal intervals, all from
 *             `rampEnd` * totalSteps on;
 *   - staged: explicit stages, each from a fraction of totalSteps, listing its buckets.
 * Batches are a pure function of (seed, step): a run resumed at step k draws
 * exactly what the uninterrupted run drew. Within a stretch of steps where the
 * pool is unchanged, batches walk through seeded permutations of the pool, so
 * every item is seen once before any is seen twice.
 */
import { Rng } from '../data/rng';

export const DEFAULT_MAX_ATTEMPTS = 3;

function checkMaxAttempts(maxAttempts: number): void {
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
}

/**
 * Attempts needed from attempt outcomes in sampling order: 1..maxAttempts at
 * the first right one, maxAttempts + 1 when none of the first maxAttempts is
 * right. Outcomes after the first right one are ignored (the paper stops
 * there). Fewer than maxAttempts outcomes with none right is incomplete and
 * throws.
 */
export function attemptsNeeded(correct: readonly boolean[], maxAttempts = DEFAULT_MAX_ATTEMPTS): number {
  checkMaxAttempts(maxAttempts);
  if (!Array.isArray(correct)) throw new TypeError('correct must be an array of booleans');
  const n = Math.min(correct.length, maxAttempts);
  for (let i = 0; i < n; i++) {
    if (typeof correct[i] !== 'boolean') throw new TypeError(`correct[${i}] must be a boolean, got ${typeof correct[i]}`);
    if (correct[i]) return i + 1;
  }
  if (correct.length < maxAttempts) {
    throw new RangeError(`correct has ${correct.length} attempts, none right: give all ${maxAttempts} attempts (or stop at the first right one)`);
  }
  return maxAttempts + 1;
}

/** Which attempts were right: verdict === label. Unparseable verdicts (null/undefined) count as wrong. */
export function attemptOutcomes(verdicts: readonly (1 | 2 | null | undefined)[], label: 1 | 2): boolean[] {
  if (label !== 1 && label !== 2) throw new RangeError(`label must be 1 or 2, got ${JSON.stringify(label)}`);
  if (!Array.isArray(verdicts)) throw new TypeError('verdicts must be an array');
  return verdicts.map((v, i) => {
    if (v !== 1 && v !== 2 && v !== null && v !== undefined) throw new RangeError(`verdicts[${i}] must be 1, 2 or null, got ${JSON.stringify(v)}`);
    return v === label;
  });
}

/** attemptsNeeded from verdicts. */
export function difficultyFromVerdicts(verdicts: readonly (1 | 2 | null | undefined)[], label: 1 | 2, maxAttempts = DEFAULT_MAX_ATTEMPTS): number {
  return attemptsNeeded(attemptOutcomes(verdicts, label), maxAttempts);
}

export function failedAll(difficulty: number, maxAttempts = DEFAULT_MAX_ATTEMPTS): boolean {
  return difficulty === maxAttempts + 1;
}

/** The paper's rule: needed >= 2 attempts, or failed all (whose difficulty is maxAttempts + 1 >= 2). */
export function isHard(difficulty: number, threshold = 2): boolean {
  if (!Number.isInteger(difficulty) || difficulty < 1) throw new RangeError(`difficulty must be a positive integer, got ${difficulty}`);
  return difficulty >= threshold;
}

/** Items whose difficulty is hard, in their original order. */
export function selectHard<T>(items: readonly T[], difficulty: (item: T) => number, threshold = 2): T[] {
  return items.filter((it) => isHard(difficulty(it), threshold));
}

/** Count of items per difficulty, keys 1..maxAttempts+1 always present. */
export function difficultyHistogram(difficulties: readonly number[], maxAttempts = DEFAULT_MAX_ATTEMPTS): Record<number, number> {
  checkMaxAttempts(maxAttempts);
  const out: Record<number, number> = {};
  for (let d = 1; d <= maxAttempts + 1; d++) out[d] = 0;
  difficulties.forEach((d, i) => {
    if (!(d in out)) throw new RangeError(`difficulties[${i}] must be in 1..${maxAttempts + 1}, got ${d}`);
    out[d]++;
  });
  return out;
}

// ---- curriculum ------------------------------------------------------------------------------------------

export interface CurriculumItem {
  /** Synthetic difficulty level (0-4), when known. */
  level?: number;
  /** Attempts-needed difficulty (2..maxAttempts+1 for hard samples). */
  hardness?: number;
}

export type CurriculumKey = 'level' | 'hardness';

export type CurriculumSchedule =
  | { kind: 'none' }
  | {
      kind: 'linear';
      by: CurriculumKey;
      /** Buckets in the pool at step 0 (default 1). */
      start?: number;
      /** Fraction of totalSteps from which every bucket is in (default 0.5). */
      rampEnd?: number;
      /** 'easy-first' (default): lowest key values first. */
      order?: 'easy-first' | 'hard-first';
    }
  | {
      kind: 'staged';
      by: CurriculumKey;
      /** `from`: fraction of totalSteps where the stage begins; the first stage begins at 0, each later one later. */
      stages: { from: number; keys: number[] }[];
    };

export interface CurriculumOptions {
  schedule: CurriculumSchedule;
  totalSteps: number;
  batchSize: number;
  seed: number;
}

export interface CurriculumPhase {
  /** Index of the pool in force (0 = the first). */
  phase: number;
  /** Bucket values in the pool. */
  keys: number[];
  /** Item indices in the pool, ascending. */
  pool: number[];
  /** First step of this phase. */
  from: number;
  /** True when the scheduled buckets held no items and the whole item list is used instead. */
  fallback: boolean;
}

function fraction(v: unknown, name: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  return v;
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export class Curriculum {
  readonly totalSteps: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly schedule: CurriculumSchedule;
  private readonly keyOf: (number | undefined)[];
  private readonly phases: { keys: number[]; fromStep: number }[];
  private readonly pools: { pool: number[]; fallback: boolean }[];
  private readonly permCache = new Map<string, number[]>();

  constructor(items: readonly CurriculumItem[], options: CurriculumOptions) {
    if (!Array.isArray(items) || items.length === 0) throw new RangeError('items must be a non-empty array');
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    this.totalSteps = positiveInt(options.totalSteps, 'options.totalSteps');
    this.batchSize = positiveInt(options.batchSize, 'options.batchSize');
    if (typeof options.seed !== 'number' || !Number.isSafeInteger(options.seed) || options.seed < 0) {
      throw new RangeError(`options.seed must be a non-negative integer, got ${JSON.stringify(options.seed)}`);
    }
    this.seed = options.seed;
    const s = options.schedule;
    if (s === null || typeof s !== 'object') throw new TypeError('options.schedule must be an object');
    this.schedule = s;
    const by: CurriculumKey | undefined = s.kind === 'none' ? undefined : s.by;
    if (s.kind !== 'none' && s.kind !== 'linear' && s.kind !== 'staged') {
      throw new RangeError(`options.schedule.kind must be 'none', 'linear' or 'staged', got ${JSON.stringify((s as { kind: unknown }).kind)}`);
    }
    if (by !== undefined && by !== 'level' && by !== 'hardness')
      throw new RangeError(`options.schedule.by must be 'level' or 'hardness', got ${JSON.stringify(by)}`);
    this.keyOf = items.map((it, i) => {
      if (by === undefined) return undefined;
      const k = it?.[by];
      if (typeof k !== 'number' || !Number.isInteger(k))
        throw new TypeError(`items[${i}].${by} must be an integer (the schedule orders by it), got ${JSON.stringify(k)}`);
      return k;
    });
    const present = [...new Set(this.keyOf.filter((k): k is number => k !== undefined))].sort((a, b) => a - b);
    this.phases = this.buildPhases(s, present);
    this.pools = this.phases.map((p) => {
      const set = new Set(p.keys);
      const pool = by === undefined ? items.map((_, i) => i) : this.keyOf.flatMap((k, i) => (k !== undefined && set.has(k) ? [i] : []));
      return pool.length > 0 ? { pool, fallback: false } : { pool: items.map((_, i) => i), fallback: true };
    });
  }

  private buildPhases(s: CurriculumSchedule, present: number[]): { keys: number[]; fromStep: number }[] {
    const T = this.totalSteps;
    switch (s.kind) {
      case 'none':
        return [{ keys: present, fromStep: 0 }];
      case 'linear': {
        const order = s.order ?? 'easy-first';
        if (order !== 'easy-first' && order !== 'hard-first')
          throw new RangeError(`options.schedule.order must be 'easy-first' or 'hard-first', got ${JSON.stringify(order)}`);
        const keys = order === 'easy-first' ? present : [...present].reverse();
        const start = Math.min(positiveInt(s.start ?? 1, 'options.schedule.start'), keys.length);
        const rampEnd = fraction(s.rampEnd ?? 0.5, 'options.schedule.rampEnd');
        const added = keys.length - start;
        const first = (k: number) => keys.slice(0, k).sort((a, b) => a - b);
        const phases = [{ keys: first(start), fromStep: 0 }];
        // Bucket j (1..added) joins at step ceil(j / added * rampEnd * T): equal intervals, all in by rampEnd.
        for (let j = 1; j <= added; j++) {
          const from = Math.ceil((j / added) * rampEnd * T);
          const last = phases[phases.length - 1];
          if (from <= last.fromStep) last.keys = first(start + j);
          else phases.push({ keys: first(start + j), fromStep: from });
        }
        return phases;
      }
      case 'staged': {
        if (!Array.isArray(s.stages) || s.stages.length === 0) throw new RangeError('options.schedule.stages must be a non-empty array');
        const out: { keys: number[]; fromStep: number }[] = [];
        let prevFrom = -1;
        s.stages.forEach((st, i) => {
          const f = fraction(st?.from, `options.schedule.stages[${i}].from`);
          if (i === 0 && f !== 0) throw new RangeError(`options.schedule.stages[0].from must be 0, got ${f}`);
          if (f <= prevFrom) throw new RangeError(`options.schedule.stages[${i}].from must be greater than stage ${i - 1}'s`);
          prevFrom = f;
          if (!Array.isArray(st.keys) || st.keys.length === 0 || !st.keys.every((k) => Number.isInteger(k))) {
            throw new RangeError(`options.schedule.stages[${i}].keys must be a non-empty array of integers`);
          }
          const phase = { keys: [...new Set(st.keys)].sort((a, b) => a - b), fromStep: Math.round(f * T) };
          // With few steps two stages can round to the same step: the later one wins.
          if (out.length > 0 && out[out.length - 1].fromStep === phase.fromStep) out[out.length - 1] = phase;
          else out.push(phase);
        });
        return out;
      }
    }
  }

  private phaseIndex(step: number): number {
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
    let p = 0;
    while (p + 1 < this.phases.length && this.phases[p + 1].fromStep <= step) p++;
    return p;
  }

  /** The pool in force at `step` (steps past totalSteps keep the last pool). */
  phaseAt(step: number): CurriculumPhase {
    const p = this.phaseIndex(step);
    const { pool, fallback } = this.pools[p];
    return { phase: p, keys: [...this.phases[p].keys], pool: [...pool], from: this.phases[p].fromStep, fallback };
  }

  /** Every phase, in order. */
  describe(): CurriculumPhase[] {
    return this.phases.map((_, p) => this.phaseAt(this.phases[p].fromStep));
  }

  private permutation(phase: number, cycle: number): number[] {
    const key = `${phase}:${cycle}`;
    let perm = this.permCache.get(key);
    if (!perm) {
      perm = Rng.derive(this.seed, 'curriculum', phase, cycle).shuffle([...this.pools[phase].pool]);
      if (this.permCache.size > 64) this.permCache.clear();
      this.permCache.set(key, perm);
    }
    return perm;
  }

  /** Item indices for `step` (batchSize of them; repeats only when the pool is smaller than a batch or wraps). */
  batch(step: number): number[] {
    const p = this.phaseIndex(step);
    const pool = this.pools[p].pool;
    const offset = (step - this.phases[p].fromStep) * this.batchSize;
    const out: number[] = [];
    for (let j = 0; j < this.batchSize; j++) {
      const pos = offset + j;
      out.push(this.permutation(p, Math.floor(pos / pool.length))[pos % pool.length]);
    }
    return out;
  }
}

/**
 * Parses a schedule written as text (for CLI flags and config files):
 *   "none" | "linear:level" | "linear:hardness:start=1,rampEnd=0.6,order=hard-first" |
 *   "staged:level:0=1,2;0.3=1,2,3;0.6=1,2,3,4"
 */
export function parseSchedule(text: string): CurriculumSchedule {
  if (typeof text !== 'string') throw new TypeError(`schedule must be a string, got ${typeof text}`);
  const t = text.trim();
  const [kind, by, rest] = t.includes(':') ? splitSchedule(t) : [t, undefined, undefined];
  if (kind === 'none') {
    if (by !== undefined) throw new RangeError(`schedule "none" takes no arguments, got ${JSON.stringify(text)}`);
    return { kind: 'none' };
  }
  if (by !== 'level' && by !== 'hardness') throw new RangeError(`schedule ${JSON.stringify(text)}: the key must be 'level' or 'hardness'`);
  if (kind === 'linear') {
    const s: CurriculumSchedule = { kind: 'linear', by };
    for (const kv of (rest ?? '').split(',').filter((x) => x !== '')) {
      const [k, v] = kv.split('=');
      if (k === 'start') s.start = Number(v);
      else if (k === 'rampEnd') s.rampEnd = Number(v);
      else if (k === 'order') s.order = v as 'easy-first' | 'hard-first';
      else throw new RangeError(`schedule ${JSON.stringify(text)}: unknown linear option ${JSON.stringify(k)}`);
    }
    return s;
  }
  if (kind === 'staged') {
    if (!rest) throw new RangeError(`schedule ${JSON.stringify(text)}: staged needs stages like 0=1,2;0.5=1,2,3`);
    const stages = rest.split(';').map((part) => {
      const m = /^\s*([\d.]+)\s*=\s*([\d,\s]+)$/.exec(part);
      if (!m) throw new RangeError(`schedule ${JSON.stringify(text)}: bad stage ${JSON.stringify(part)} (want FROM=K1,K2)`);
      return { from: Number(m[1]), keys: m[2].split(',').map((x) => Number(x.trim())) };
    });
    return { kind: 'staged', by, stages };
  }
  throw new RangeError(`schedule kind must be 'none', 'linear' or 'staged', got ${JSON.stringify(kind)}`);
}

function splitSchedule(text: string): [string, string | undefined, string | undefined] {
  const a = text.indexOf(':');
  const b = text.indexOf(':', a + 1);
  return b < 0 ? [text.slice(0, a), text.slice(a + 1), undefined] : [text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1)];
}
