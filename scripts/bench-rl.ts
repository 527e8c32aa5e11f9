/**
 * Stage-2 test bed (issue 15): does an RL regime make a judge that already judges better?
 *
 *   npm run bench:rl                         # the recommended regime + the random-label control, 3 seeds;
 *                                            # writes bench/rl.json and the "rl" section of bench/RESULTS.md
 *   node dist/scripts/bench-rl.js --regime NAME [--set key=value,...] [--seeds 0,1,2] [--tag T]
 *                                            # one experiment; one JSON line per seed into bench/raw/rl/runs.jsonl
 *   node dist/scripts/bench-rl.js --summarise TAG,TAG  # pooled figures of recorded experiments
 *
 * The bed (text only, no image): the built-in synthetic judging rows with the teacher's evidence lines and fact
 * line moved into the question (docs/research/image-blindness.md, e26). The model still has to judge: decide which
 * response contradicts the given evidence, then say so in the analysis's last lines and the verdict. Stage 1 = SFT
 * from scratch on the rest of the teacher analysis, cached per seed under bench/raw/rl/ (every stage-2 variant of a
 * seed starts from the same checkpoint). Test: TEST_PAIRS held-out pairs, greedy; both answer positions are 1:1.
 * Everything is seeded: same seed, same numbers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseFlags, str } from '../lib/cli/args';
import { buildCompactPrompt } from '../lib/eval/prompt';
import { FACT_PREFIX } from '../lib/data/generate';
import { Rng, hashSeed } from '../lib/data/rng';
import { synthesize } from '../lib/data/synth';
import * as kernels from '../lib/kernels';
import { AdamW, PolicyModel, type ModelExample, type ModelInput } from '../lib/model';
import { trainBpe } from '../lib/model/tokenizer';
import { RuleBasedJudge, computeReward, createRewardStats, parseVerdict } from '../lib/rewards';
import {
  groupBaselineAdvantages,
  informativeGroups,
  shuffledLabels,
  verdictConditionalAdvantages,
  verdictTokenMask,
  type Verdict,
} from '../lib/train/rl-regime';
import { signTestP } from '../lib/train/summary';
import { cosineLr, sftStep } from '../lib/train/update';
import { machineDescription, today, writeSection } from './bench/results-file';

const ROOT = path.join(__dirname, '..', '..');
const RAW = path.join(ROOT, 'bench', 'raw', 'rl');
const TEST_PAIRS = 1200;
const DATA_N = 18_000;
const MODEL = { dModel: 128, nLayers: 4, nHeads: 4, dFF: 352, imageSize: 48, patchSize: 16, maxSeqLen: 256 };
const STAGE1 = { steps: 1500, batchSize: 16, lr: 2e-3, warmup: 10, minLrRatio: 0.1, weightDecay: 0.01, bpeMerges: 1024 };
const MAX_NEW = 48;
const EVAL_BATCH = 200;

// ---------------------------------------------------------------- data

interface BedRow {
  prompt: string;
  /** The teacher's text after the evidence and fact lines: "<think>Response 1 ...</think><answer>N</answer>". */
  target: string;
  label: Verdict;
  level: number;
}

/** A synthetic row with its evidence and fact lines moved from the teacher's analysis into the question. */
function bedRow(r: { question: string; response1: string; response2: string; label: 1 | 2; difficulty?: number; teacher?: string; id: string }): BedRow {
  const t = r.teacher ?? '';
  const body = t.slice('<think>'.length);
  const at = body.indexOf(FACT_PREFIX);
  const end = body.indexOf('\n', at);
  if (!t.startsWith('<think>') || at < 0 || end < 0) throw new Error(`row ${r.id}: the teacher text has no "${FACT_PREFIX}" line`);
  const evidence = body.slice(0, end);
  return {
    prompt: buildCompactPrompt(`${r.question}\nEvidence:\n${evidence}`, r.response1, r.response2) + '\n',
    target: `<think>${body.slice(end + 1)}`,
    label: r.label,
    level: r.difficulty ?? 0,
  };
}

/** The same pair with the responses exchanged (the analysis' response numbers would change too; RL needs no target). */
function swapped(r: BedRow, q: { question: string; response1: string; response2: string; teacher?: string }): BedRow {
  const body = (q.teacher ?? '').slice('<think>'.length);
  const end = body.indexOf('\n', body.indexOf(FACT_PREFIX));
  return {
    prompt: buildCompactPrompt(`${q.question}\nEvidence:\n${body.slice(0, end)}`, q.response2, q.response1) + '\n',
    target: '',
    label: r.label === 1 ? 2 : 1,
    level: r.level,
  };
}

interface Bed {
  train: BedRow[];
  /** Each train row's swapped copy (same index). */
  trainSwapped: BedRow[];
  test: BedRow[];
}

function makeBed(seed: number): Bed {
  const d = synthesize({ n: DATA_N, seed, levels: [1, 2, 3, 4], testFraction: TEST_PAIRS / DATA_N, imageSize: 48, grid: 3 });
  const train = d.train.map(bedRow);
  return { train, trainSwapped: d.train.map((q, i) => swapped(train[i], q)), test: d.test.map(bedRow) };
}

const input = (r: BedRow): ModelInput => ({ image: null, prompt: r.prompt });

// ---------------------------------------------------------------- evaluation

interface Eval {
  step: number;
  accuracy: number;
  /** Share of test pairs answered "1" (unparsable answers count as neither). */
  share1: number;
  parsed: number;
  /** Mean response length in tokens. */
  length: number;
  /** One character per test pair: 1 right, 0 not. */
  right: string;
}

async function evaluate(model: PolicyModel, rows: readonly BedRow[], step: number): Promise<Eval> {
  let right = '';
  let ones = 0;
  let parsed = 0;
  let len = 0;
  for (let i = 0; i < rows.length; i += EVAL_BATCH) {
    const chunk = rows.slice(i, i + EVAL_BATCH);
    const out = await model.generate(chunk.map(input), { maxNewTokens: MAX_NEW, temperature: 0 });
    out.forEach(([g], k) => {
      const v = parseVerdict(g.text, { fallback: false });
      const ok = v.ok && v.verdict === chunk[k].label;
      right += ok ? '1' : '0';
      if (v.ok) {
        parsed++;
        ones += Number(v.verdict === 1);
      }
      len += g.tokens.length;
    });
  }
  const n = rows.length;
  return { step, accuracy: [...right].filter((c) => c === '1').length / n, share1: ones / n, parsed: parsed / n, length: len / n, right };
}

// ---------------------------------------------------------------- stage 1 (cached)

async function stage1(seed: number, bed: Bed): Promise<{ model: PolicyModel; eval: Eval; seconds: number }> {
  const key = `stage1-s${seed}-${hashSeed(JSON.stringify({ MODEL, STAGE1, DATA_N, TEST_PAIRS })).toString(16)}`;
  const dir = path.join(RAW, key);
  const evalFile = path.join(dir, 'eval.json');
  if (fs.existsSync(evalFile)) {
    const model = await PolicyModel.load(dir, { device: 'cpu' });
    const e = JSON.parse(fs.readFileSync(evalFile, 'utf8'));
    return { model, eval: e.eval, seconds: e.seconds };
  }
  const t0 = Date.now();
  const tokenizer = trainBpe(
    (function* () {
      for (const r of bed.train) {
        yield r.prompt;
        yield r.target;
      }
    })(),
    { merges: STAGE1.bpeMerges },
  );
  const model = PolicyModel.create(MODEL, { device: 'cpu', seed, tokenizer });
  const opt = new AdamW(model, { lr: STAGE1.lr, weightDecay: STAGE1.weightDecay, maxGradNorm: 1 });
  const rng = Rng.derive(seed, 'bench-rl', 'sft');
  let order: number[] = [];
  let loss = 0;
  for (let step = 0; step < STAGE1.steps; step++) {
    opt.lr = cosineLr(step, STAGE1.steps, STAGE1.lr, STAGE1.warmup, STAGE1.minLrRatio);
    if (order.length < STAGE1.batchSize) order = order.concat(rng.shuffle(bed.train.map((_, i) => i)));
    const batch: ModelExample[] = order.splice(0, STAGE1.batchSize).map((i) => ({ ...input(bed.train[i]), response: bed.train[i].target }));
    loss += (await sftStep(model, opt, batch)).loss;
    if ((step + 1) % 250 === 0) {
      log(`seed ${seed} stage 1 step ${step + 1}/${STAGE1.steps} loss ${(loss / 250).toFixed(4)} (${Math.round((Date.now() - t0) / 1000)} s)`);
      loss = 0;
    }
  }
  const e = await evaluate(model, bed.test, 0);
  const seconds = (Date.now() - t0) / 1000;
  await model.save(dir);
  fs.writeFileSync(evalFile, JSON.stringify({ eval: e, seconds }));
  return { model, eval: e, seconds };
}

// ---------------------------------------------------------------- stage 2

export interface Regime {
  /** Optimizer steps (rollout batches). */
  steps: number;
  promptsPerStep: number;
  groupSize: number;
  temperature: number;
  /** PPO epochs over each rollout batch, and AdamW steps per epoch (1 = the whole batch, accumulated). */
  epochs: number;
  updatesPerEpoch: number;
  microBatch: number;
  lr: number;
  /** Warm-up as a share of all AdamW steps, then cosine to lr * minLrRatio ('constant': lr throughout). */
  schedule: 'cosine' | 'constant';
  warmup: number;
  minLrRatio: number;
  beta2: number;
  weightDecay: number;
  /** KL(policy || stage-1) in the loss (kernels.policyLoss klCoef / logpRef), k3. */
  klCoef: number;
  /** none: raw rewards (REINFORCE++); verdict: centred per verdict class; rloo / group-mean / grpo: per prompt. */
  baseline: 'none' | 'verdict' | 'rloo' | 'group-mean' | 'grpo';
  /** Drop the rollouts of groups whose rewards are all equal (dynamic filtering). */
  dynamicFilter: boolean;
  /** Standardise the token advantages over the batch (REINFORCE++); the 3-sigma filter applies only then. */
  normalise: boolean;
  filter: boolean;
  preClip: boolean;
  /** Advantages on every sampled token, or only on the verdict digit. */
  tokens: 'all' | 'verdict';
  /** r1: Result*(1 + 0.5 Consistency) + 0.5 Format (rule-based judge); result: Result only. */
  reward: 'r1' | 'result';
  /** Each step's prompts come as pairs: a row and its swapped copy. */
  pairSwap: boolean;
  evalEvery: number;
  /** Random-label control: rewards from shuffled labels. */
  control: boolean;
  /** RL prompts: the SFT train rows, or fresh rows from another data seed (never seen in stage 1). */
  pool: 'train' | 'fresh';
}

/** The regime the trainer used before issue 15 (demo preset), on this bed. */
export const OLD_REGIME: Regime = {
  steps: 120,
  promptsPerStep: 8,
  groupSize: 4,
  temperature: 1,
  epochs: 2,
  updatesPerEpoch: 2,
  microBatch: 16,
  lr: 5e-5,
  schedule: 'constant',
  warmup: 0,
  minLrRatio: 1,
  beta2: 0.999,
  weightDecay: 0.01,
  klCoef: 0,
  baseline: 'none',
  dynamicFilter: false,
  normalise: true,
  filter: true,
  preClip: true,
  tokens: 'all',
  reward: 'r1',
  pairSwap: false,
  evalEvery: 40,
  control: false,
  pool: 'train',
};

/** The released recipe's regime shape, scaled to this bed: one AdamW step per 128 rollouts, betas 0.95, wd 0, KL. */
export const BASE_REGIME: Regime = {
  ...OLD_REGIME,
  steps: 40,
  promptsPerStep: 32,
  groupSize: 4,
  epochs: 1,
  updatesPerEpoch: 1,
  microBatch: 64,
  lr: 1e-4,
  schedule: 'cosine',
  warmup: 0.05,
  minLrRatio: 0.1,
  beta2: 0.95,
  weightDecay: 0,
  klCoef: 0,
  evalEvery: 10,
};

export const REGIMES: Record<string, Partial<Regime>> = {
  old: OLD_REGIME,
  base: {},
  /** Best found within issue 15's time box (docs/research/rl-regime.md): per-prompt RLOO baseline with dynamic
   * filtering, KL (k3) to the stage-1 model in the loss, 128 rollouts per AdamW step, lr 5% of the SFT rate. */
  recommended: { steps: 20, evalEvery: 10, baseline: 'rloo', dynamicFilter: true, klCoef: 0.05 },
};

interface StepLog {
  step: number;
  reward: number;
  accuracy: number;
  share1: number;
  kept: number;
  loss: number;
  ratioMax: number;
  kl: number;
  gradNorm: number;
  nonFinite: number;
  filtered: number;
  length: number;
  lr: number;
}

const judge = new RuleBasedJudge();

/** Rows no stage-1 model of `seed` has seen: the train split of another data seed. */
function freshPool(seed: number, rows: number): Pick<Bed, 'train' | 'trainSwapped'> {
  const d = synthesize({ n: rows + 2, seed: hashSeed(seed, 'bench-rl-fresh'), levels: [1, 2, 3, 4], testFraction: 2 / (rows + 2), imageSize: 48, grid: 3 });
  const train = d.train.map(bedRow);
  return { train, trainSwapped: d.train.map((q, i) => swapped(train[i], q)) };
}

async function stage2(seed: number, testBed: Bed, s1dir: PolicyModel, r: Regime, s1eval: Eval): Promise<{ evals: Eval[]; steps: StepLog[]; seconds: number }> {
  const t0 = Date.now();
  const bed = r.pool === 'fresh' ? { ...testBed, ...freshPool(seed, r.steps * r.promptsPerStep) } : testBed;
  const model = s1dir;
  const ref = r.klCoef > 0 ? await cloneModel(model) : null;
  const opt = new AdamW(model, { lr: r.lr, betas: [0.9, r.beta2], weightDecay: r.weightDecay, maxGradNorm: 1 });
  const totalUpdates = r.steps * r.epochs * r.updatesPerEpoch;
  const warmupUpdates = Math.round(r.warmup * totalUpdates);
  const labels = r.control
    ? shuffledLabels(
        bed.train.map((x) => x.label),
        Rng.derive(seed, 'bench-rl', 'control'),
      )
    : bed.train.map((x) => x.label);
  const rewardLabel = (i: number, isSwap: boolean): Verdict => (isSwap ? (labels[i] === 1 ? 2 : 1) : labels[i]);
  // 1 epoch over the train rows in a seeded order (prompts never repeat within a run).
  const order = Rng.derive(seed, 'bench-rl', 'pool').shuffle(bed.train.map((_, i) => i));
  let cursor = 0;
  const evals: Eval[] = [s1eval];
  const logs: StepLog[] = [];
  const stats = createRewardStats();
  let update = 0;
  for (let step = 0; step < r.steps; step++) {
    // Prompts of this step: indices into train, and whether the swapped copy is shown.
    const picks: { i: number; swap: boolean }[] = [];
    const rowRng = Rng.derive(seed, 'bench-rl', 'swap', step);
    while (picks.length < r.promptsPerStep) {
      const i = order[cursor++ % order.length];
      if (r.pairSwap) picks.push({ i, swap: false }, { i, swap: true });
      else picks.push({ i, swap: rowRng.chance(0.5) });
    }
    const rows = picks.map((p) => (p.swap ? bed.trainSwapped[p.i] : bed.train[p.i]));
    const gen = await model.generate(rows.map(input), {
      n: r.groupSize,
      temperature: r.temperature,
      maxNewTokens: MAX_NEW,
      seed: hashSeed(seed, 'bench-rl-rollout', step),
    });
    const samples = gen.flat();
    const seqPick = picks.flatMap((p) => Array.from({ length: r.groupSize }, () => p));
    const B = samples.length;
    const weights = { consistency: r.reward === 'r1' ? 0.5 : 0, format: r.reward === 'r1' ? 0.5 : 0 };
    const parts = await Promise.all(samples.map((x, b) => computeReward(x.text, rewardLabel(seqPick[b].i, seqPick[b].swap), judge, { weights, stats })));
    const rewards = parts.map((p) => p.reward);
    const verdicts = parts.map((p) => p.verdict);

    // Per-sequence advantages and which sequences take part.
    let keep: boolean[] = samples.map(() => true);
    if (r.dynamicFilter) keep = informativeGroups(rewards, r.groupSize);
    let seqAdv: Float64Array;
    if (r.baseline === 'none') seqAdv = Float64Array.from(rewards);
    else if (r.baseline === 'verdict') seqAdv = verdictConditionalAdvantages(rewards, verdicts);
    else seqAdv = groupBaselineAdvantages(rewards, r.groupSize, r.baseline);
    const tokenMasks = samples.map((x) =>
      r.tokens === 'verdict' ? verdictTokenMask(Array.from(x.tokens, (t) => model.tokenizer.decode([t]))) : new Uint8Array(x.tokens.length).fill(1),
    );
    const idx = samples.map((_, b) => b).filter((b) => keep[b]);
    const kept = idx.length;
    // Token advantages (sequence value on its masked tokens), standardised over the batch's valid tokens.
    const lens = samples.map((x) => x.tokens.length);
    const T = Math.max(1, ...lens);
    const vals = new Float32Array(B * T);
    const mask = new Uint8Array(B * T);
    for (const b of idx) {
      for (let t = 0; t < lens[b]; t++) {
        if (tokenMasks[b][t]) {
          vals[b * T + t] = seqAdv[b];
          mask[b * T + t] = 1;
        }
      }
    }
    let tokAdv: Float32Array = vals;
    let filtered = 0;
    if (r.normalise) {
      const f = kernels.advantageFilter(vals, { mask, sigma: r.filter ? 3 : 1e30, rule: 'paper' });
      tokAdv = f.advantages.toArray() as Float32Array;
      f.advantages.dispose();
      filtered = f.filtered;
    }
    const advOf = (b: number) => tokAdv.subarray(b * T, b * T + lens[b]);

    // Reference log-probs (KL in the loss).
    const examples: ModelExample[] = samples.map((x, b) => ({ ...input(rows[Math.floor(b / r.groupSize)]), response: x.tokens }));
    let logpRef: Float32Array[] | null = null;
    if (ref) {
      logpRef = new Array(B);
      for (let i = 0; i < idx.length; i += r.microBatch) {
        const mb = idx.slice(i, i + r.microBatch);
        const lr = await ref.logprobs(
          mb.map((b) => examples[b]),
          { temperature: r.temperature, grad: false },
        );
        const flat = lr.logprobs.toArray() as Float32Array;
        const TT = lr.logprobs.shape[1];
        mb.forEach((b, k) => (logpRef![b] = flat.slice(k * TT, k * TT + lens[b])));
        lr.logprobs.dispose();
        lr.mask.dispose();
      }
    }

    // Updates: epochs x updatesPerEpoch AdamW steps, each over its share of the kept rollouts, accumulated.
    let lossSum = 0;
    let ratioMax = 0;
    let klSum = 0;
    let nonFinite = 0;
    let gradNorm = 0;
    for (let e = 0; e < r.epochs && kept > 0; e++) {
      const perm = Rng.derive(seed, 'bench-rl-ppo', step, e).shuffle(idx.slice());
      const per = Math.ceil(perm.length / r.updatesPerEpoch);
      for (let u = 0; u < r.updatesPerEpoch; u++) {
        const part = perm.slice(u * per, (u + 1) * per);
        if (part.length === 0) continue;
        opt.lr = r.schedule === 'cosine' ? cosineLr(update, totalUpdates, r.lr, warmupUpdates, r.minLrRatio) : r.lr;
        let bad = false;
        for (let i = 0; i < part.length; i += r.microBatch) {
          const mb = part.slice(i, i + r.microBatch);
          const lp = await model.logprobs(
            mb.map((b) => examples[b]),
            { temperature: r.temperature },
          );
          const TT = lp.logprobs.shape[1];
          const pack = (f: (b: number) => ArrayLike<number>) => {
            const out = new Float32Array(mb.length * TT);
            mb.forEach((b, k) => out.set(f(b), k * TT));
            return out;
          };
          const m = new Uint8Array(mb.length * TT);
          mb.forEach((b, k) => m.fill(1, k * TT, k * TT + lens[b]));
          const res = kernels.policyLoss({
            logpNew: lp.logprobs,
            logpOld: pack((b) => samples[b].logprobs),
            advantages: pack(advOf),
            mask: m,
            shape: [mb.length, TT],
            clipEps: 0.2,
            ...(r.preClip ? { minRatio: 1e-3, maxRatio: 1e3 } : { minRatio: 1e-30, maxRatio: 1e30 }),
            ...(ref ? { logpRef: pack((b) => logpRef![b]), klCoef: r.klCoef, klEstimator: 'k3' as const } : {}),
            normalizer: part.length,
          });
          lossSum += res.loss;
          ratioMax = Math.max(ratioMax, res.stats.ratioMax);
          klSum += res.stats.klMean * mb.length;
          nonFinite += res.stats.nonFinite;
          if (res.stats.nonFinite > 0 || !Number.isFinite(res.loss)) bad = true;
          const grad = res.grad.toArray() as Float32Array;
          res.grad.dispose();
          if (!bad) await model.backward(grad);
          lp.logprobs.dispose();
          lp.mask.dispose();
        }
        if (!bad) gradNorm = opt.step().gradNorm;
        model.zeroGrad();
        update++;
      }
    }
    const acc = parts.reduce((a, p) => a + p.result, 0) / B;
    logs.push({
      step: step + 1,
      reward: rewards.reduce((a, x) => a + x, 0) / B,
      accuracy: acc,
      share1: verdicts.filter((v) => v === 1).length / B,
      kept,
      loss: lossSum / Math.max(1, r.epochs),
      ratioMax,
      kl: kept ? klSum / kept / Math.max(1, r.epochs) : 0,
      gradNorm,
      nonFinite,
      filtered,
      length: lens.reduce((a, x) => a + x, 0) / B,
      lr: opt.lr,
    });
    if ((step + 1) % r.evalEvery === 0 || step + 1 === r.steps) {
      const e = await evaluate(model, bed.test, step + 1);
      evals.push(e);
      log(
        `  step ${step + 1}: test ${(100 * e.accuracy).toFixed(1)}% share1 ${(100 * e.share1).toFixed(0)}% len ${e.length.toFixed(1)} | rollouts acc ${(100 * acc).toFixed(0)}% kept ${kept}/${B} kl ${logs.at(-1)!.kl.toFixed(4)} (${Math.round((Date.now() - t0) / 1000)} s)`,
      );
    }
  }
  ref?.dispose();
  return { evals, steps: logs, seconds: (Date.now() - t0) / 1000 };
}

async function cloneModel(m: PolicyModel): Promise<PolicyModel> {
  const dir = fs.mkdtempSync(path.join(RAW, 'ref-'));
  await m.save(dir);
  const c = await PolicyModel.load(dir, { device: 'cpu' });
  fs.rmSync(dir, { recursive: true, force: true });
  return c;
}

// ---------------------------------------------------------------- records and statistics

interface RunRecord {
  tag: string;
  regime: Regime;
  seed: number;
  stage1: { accuracy: number; share1: number; length: number; seconds: number };
  evals: Omit<Eval, 'right'>[];
  fixed: number;
  broken: number;
  steps: StepLog[];
  seconds: number;
  right1: string;
  right2: string;
}

function log(s: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

function parseSet(s: string | undefined): Partial<Regime> {
  const out: Record<string, unknown> = {};
  if (!s) return out;
  for (const kv of s.split(',')) {
    const [k, v] = kv.split('=');
    if (!(k in BASE_REGIME)) throw new RangeError(`--set: unknown regime field ${k}`);
    const base = (BASE_REGIME as unknown as Record<string, unknown>)[k];
    out[k] = typeof base === 'number' ? Number(v) : typeof base === 'boolean' ? v === 'true' : v;
    if (typeof base === 'number' && !Number.isFinite(out[k] as number)) throw new RangeError(`--set ${k}: not a number: ${v}`);
  }
  return out;
}

export function pooled(records: readonly RunRecord[]): { gainPoints: number; fixed: number; broken: number; p: number; n: number } {
  let fixed = 0;
  let broken = 0;
  let n = 0;
  let gain = 0;
  for (const r of records) {
    fixed += r.fixed;
    broken += r.broken;
    n += r.right1.length;
    gain += r.fixed - r.broken;
  }
  return { gainPoints: n ? (100 * gain) / n : 0, fixed, broken, p: signTestP(fixed, broken), n };
}

async function runOne(tag: string, regime: Regime, seed: number): Promise<RunRecord> {
  const bed = makeBed(seed);
  const s1 = await stage1(seed, bed);
  log(`seed ${seed} ${tag}: stage 1 ${(100 * s1.eval.accuracy).toFixed(1)}% share1 ${(100 * s1.eval.share1).toFixed(0)}%`);
  const s2 = await stage2(seed, bed, s1.model, regime, s1.eval);
  s1.model.dispose();
  const last = s2.evals.at(-1)!;
  let fixed = 0;
  let broken = 0;
  for (let i = 0; i < last.right.length; i++) {
    if (s1.eval.right[i] === '0' && last.right[i] === '1') fixed++;
    if (s1.eval.right[i] === '1' && last.right[i] === '0') broken++;
  }
  const rec: RunRecord = {
    tag,
    regime,
    seed,
    stage1: { accuracy: s1.eval.accuracy, share1: s1.eval.share1, length: s1.eval.length, seconds: s1.seconds },
    evals: s2.evals.map(({ right: _r, ...e }) => e),
    fixed,
    broken,
    steps: s2.steps,
    seconds: s2.seconds,
    right1: s1.eval.right,
    right2: last.right,
  };
  fs.mkdirSync(RAW, { recursive: true });
  fs.appendFileSync(path.join(RAW, 'runs.jsonl'), JSON.stringify(rec) + '\n');
  log(
    `seed ${seed} ${tag}: ${(100 * s1.eval.accuracy).toFixed(1)}% -> ${(100 * last.accuracy).toFixed(1)}% (fixed ${fixed}, broken ${broken}, p ${signTestP(fixed, broken).toFixed(4)}) share1 ${s2.evals.map((e) => (100 * e.share1).toFixed(0)).join('/')} in ${s2.seconds.toFixed(0)} s`,
  );
  return rec;
}

function readRuns(): RunRecord[] {
  const f = path.join(RAW, 'runs.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function summariseTag(tag: string, runs: readonly RunRecord[]): string {
  const rs = runs.filter((r) => r.tag === tag);
  if (rs.length === 0) return `${tag}: no runs`;
  const p = pooled(rs);
  const per = rs
    .map(
      (r) =>
        `s${r.seed} ${(100 * r.stage1.accuracy).toFixed(1)}->${(100 * r.evals.at(-1)!.accuracy).toFixed(1)} [1s ${r.evals.map((e) => (100 * e.share1).toFixed(0)).join('/')}] len ${r.stage1.length.toFixed(1)}->${r.evals.at(-1)!.length.toFixed(1)}`,
    )
    .join('; ');
  return `${tag}: pooled ${p.gainPoints >= 0 ? '+' : ''}${p.gainPoints.toFixed(2)} pts (fixed ${p.fixed} / broken ${p.broken}, p ${p.p.toPrecision(2)}) | ${per}`;
}

// ---------------------------------------------------------------- main

const FLAGS = Object.fromEntries(['regime', 'set', 'seeds', 'tag', 'summarise', 'write'].map((f) => [f, { type: 'string' as const }]));

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  const seeds = (str(flags, 'seeds') ?? '0,1,2').split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`--seeds: not a seed: ${s}`);
    return v;
  });
  const summ = str(flags, 'summarise');
  if (summ !== undefined) {
    const runs = readRuns();
    for (const t of summ.split(',')) console.log(summariseTag(t, runs));
    return;
  }
  const w = str(flags, 'write');
  if (w !== undefined) {
    // Re-write rl.json / RESULTS from recorded runs: TAG and TAG-control, the latest run per seed.
    const runs = readRuns();
    const latest = (tag: string) =>
      seeds.map((seed) => {
        const r = runs.filter((x) => x.tag === tag && x.seed === seed).at(-1);
        if (!r) throw new Error(`no recorded run ${tag} for seed ${seed}`);
        return r;
      });
    const main = latest(w);
    const control = latest(`${w}-control`);
    write(
      main,
      control,
      [...main, ...control].reduce((a, r) => a + r.seconds, 0),
    );
    return;
  }
  const name = str(flags, 'regime');
  if (name !== undefined) {
    if (!(name in REGIMES)) throw new RangeError(`--regime must be one of ${Object.keys(REGIMES).join(', ')}, got ${name}`);
    const regime: Regime = { ...BASE_REGIME, ...REGIMES[name], ...parseSet(str(flags, 'set')) };
    const tag = str(flags, 'tag') ?? name;
    for (const seed of seeds) await runOne(tag, regime, seed);
    console.log(summariseTag(tag, readRuns()));
    return;
  }
  await bench(seeds);
}

/** The recommended regime (REGIMES.recommended) and its random-label control over the seeds -> rl.json + RESULTS. */
async function bench(seeds: readonly number[]): Promise<void> {
  const t0 = Date.now();
  const regime: Regime = { ...BASE_REGIME, ...REGIMES.recommended };
  const main: RunRecord[] = [];
  const control: RunRecord[] = [];
  for (const seed of seeds) {
    main.push(await runOne('bench', regime, seed));
    control.push(await runOne('bench-control', { ...regime, control: true }, seed));
  }
  write(main, control, (Date.now() - t0) / 1000);
}

/** rl.json and the RESULTS section from the runs of `main` and their controls (same seeds, same order). */
function write(main: RunRecord[], control: RunRecord[], wallSeconds: number): void {
  const regime = main[0].regime;
  const p = pooled(main);
  const pc = pooled(control);
  const share1 = main.map((r) => r.evals.map((e) => e.share1));
  const claims = [
    {
      claim: 'stage 2 gains >= 5 points pooled (p < 0.01)',
      result: p.gainPoints >= 5 && p.p < 0.01 ? 'held' : 'not held',
      figures: { gainPoints: p.gainPoints, p: p.p, fixed: p.fixed, broken: p.broken },
    },
    {
      claim: 'no seed loses',
      result: main.every((r) => r.fixed >= r.broken) ? 'held' : 'not held',
      figures: { perSeedGain: main.map((r) => (100 * (r.fixed - r.broken)) / r.right1.length) },
    },
    {
      claim: 'share of "1" verdicts within 40-60% at every evaluation',
      result: share1.flat().every((s) => s >= 0.4 && s <= 0.6) ? 'held' : 'not held',
      figures: { share1 },
    },
    {
      claim: 'random-label control gains nothing',
      result: pc.gainPoints <= 0 || pc.p >= 0.05 ? 'held' : 'not held',
      figures: { gainPoints: pc.gainPoints, p: pc.p },
    },
    {
      claim: 'the 3-sigma Advantage Filter zeroes the minority outcome of binary rewards',
      result: main.some((r) => r.steps.some((x) => x.filtered > 0)) ? 'held' : 'not measurable',
      figures: {
        filteredTokens: main.reduce((a, r) => a + r.steps.reduce((b, x) => b + x.filtered, 0), 0),
        why: 'fires only when < ~10% of a batch is right (or wrong); here the rollouts are right 55-80%',
      },
    },
    {
      claim: 'RL shortens responses (paper: ~15%)',
      result: 'not measurable',
      figures: {
        stage1Length: mean(main.map((r) => r.stage1.length)),
        stage2Length: mean(main.map((r) => r.evals.at(-1)!.length)),
        why: 'the teacher analysis is templated; length is fixed by the format',
      },
    },
  ];
  const json = {
    testPairs: main[0]?.right1.length ?? 0,
    regime,
    seeds: main.map((r, k) => ({
      seed: r.seed,
      stage1: { accuracy: r.stage1.accuracy, share1: r.stage1.share1, length: r.stage1.length },
      stage2: {
        accuracy: r.evals.at(-1)!.accuracy,
        share1: r.evals.at(-1)!.share1,
        length: r.evals.at(-1)!.length,
        fixed: r.fixed,
        broken: r.broken,
        p: signTestP(r.fixed, r.broken),
      },
      share1: r.evals.map((e) => e.share1),
      accuracy: r.evals.map((e) => e.accuracy),
      evalSteps: r.evals.map((e) => e.step),
      control: {
        stage1: { accuracy: control[k].stage1.accuracy },
        stage2: { accuracy: control[k].evals.at(-1)!.accuracy },
        share1: control[k].evals.map((e) => e.share1),
      },
    })),
    pooled: { gainPoints: p.gainPoints, p: p.p, fixed: p.fixed, broken: p.broken, control: { gainPoints: pc.gainPoints, p: pc.p } },
    claims,
    wallSeconds,
  };
  fs.writeFileSync(path.join(ROOT, 'bench', 'rl.json'), JSON.stringify(json, round4, 2) + '\n');
  const pct = (x: number) => (100 * x).toFixed(1);
  const md = [
    '## Stage 2 on a judge that judges (`npm run bench:rl`)',
    '',
    `${today()}, ${machineDescription()}. Stage 2 + control took ${Math.round(json.wallSeconds)} s in all (stage-1 checkpoints cached in bench/raw/rl/ are reused; a fresh clone trains them first: ${main.map((r) => `${Math.round(r.stage1.seconds)} s`).join(', ')}).`,
    `Bed: synthetic judging rows with the teacher's evidence and fact lines in the question (text only), ${json.testPairs} held-out pairs per seed, greedy. Stage 1: SFT from scratch, ${STAGE1.steps} steps of ${STAGE1.batchSize}. Stage 2 regime: ${JSON.stringify(regime)}. Details: docs/research/rl-regime.md.`,
    '',
    '| seed | stage 1 | stage 2 | fixed / broken | p | share of "1" at each evaluation | length (tokens) | control: stage 1 -> 2 |',
    '|---|---|---|---|---|---|---|---|',
    ...main.map(
      (r, k) =>
        `| ${r.seed} | ${pct(r.stage1.accuracy)}% | ${pct(r.evals.at(-1)!.accuracy)}% | ${r.fixed} / ${r.broken} | ${signTestP(r.fixed, r.broken).toPrecision(2)} | ${r.evals.map((e) => pct(e.share1)).join(' / ')} | ${r.stage1.length.toFixed(1)} -> ${r.evals.at(-1)!.length.toFixed(1)} | ${pct(control[k].stage1.accuracy)}% -> ${pct(control[k].evals.at(-1)!.accuracy)}% |`,
    ),
    '',
    `Pooled: ${p.gainPoints >= 0 ? '+' : ''}${p.gainPoints.toFixed(1)} points (exact sign test over ${p.fixed + p.broken} flipped pairs, p = ${p.p.toPrecision(2)}); control ${pc.gainPoints >= 0 ? '+' : ''}${pc.gainPoints.toFixed(1)} points (p = ${pc.p.toPrecision(2)}).`,
    '',
    '| claim | result | figures |',
    '|---|---|---|',
    ...claims.map((c) => `| ${c.claim} | ${c.result} | ${JSON.stringify(c.figures, round4).replace(/\|/g, '/')} |`),
  ].join('\n');
  writeSection('rl', md);
  console.log(md);
}

/** JSON replacer: numbers to 4 significant digits (integers unchanged). */
function round4(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : 0;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
}
