/**
 * The bad-input corpus: every public API, CLI command and service route against generated bad inputs. A case
 * runs inside a worker process (worker.ts) and says how it ended:
 *  - ok:      a TypeError/RangeError (a 4xx answer, a CLI message) naming the argument, or an accepted input
 *             whose result passed its check;
 *  - unclear: another kind of error, or a message that does not name the argument (a 500, a stack trace);
 *  - silent:  a bad input accepted, or an accepted one whose result is wrong (NaN, wrong shape, wrong reward).
 * Crashes and hangs are seen by the runner (runner.ts): the worker dies, or stops reporting.
 */
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { PolicyModel, Tensor, Tokenizer, kernels } from '../../lib';
import { AdamW } from '../../lib/model/adamw';
import { resolveConfig } from '../../lib/model/config';
import { trainBpe } from '../../lib/model/tokenizer';
import { combineReward, computeReward, computeRewards, formatReward, normalizeLabel, parseVerdict, resultReward } from '../../lib/rewards';
import { RuleBasedJudge, conclusionPreference, lastLines } from '../../lib/rewards/judge';
import { extractAnalysis } from '../../lib/rewards/verdict';
import { buildPrompt } from '../../lib/eval/prompt';
import { DataError, loadBenchmark } from '../../lib/eval/loaders';
import { accuracyReport, majorityVote, votingAtK } from '../../lib/eval/metrics';
import { bytesToDataUrl, sniffMime } from '../../lib/eval/media';
import { RequestError, createRewardServer, extractResponse, getRewards, scorePair, LabelIndex } from '../../lib/serve';
import { parseJsonl, validateRow } from '../../lib/data/io';
import { fromR1Row, toR1Row } from '../../lib/data/r1-format';
import { resolveSynthOptions } from '../../lib/data/synth';
import { encodePng, decodeImage } from '../../lib/data/render';
import { resolveTrainConfig } from '../../lib/train/presets';
import { Curriculum, parseSchedule } from '../../lib/train/curriculum';
import { cosineLr } from '../../lib/train/update';
import { signTestP } from '../../lib/train/summary';
import { findLatestCheckpoint } from '../../lib/train/checkpoint';
import { train } from '../../lib/train/trainer';
import { main } from '../../lib/cli/main';
import { BAD_VALUES, Kind, mustRefuse } from './bad-values';

export type Group = 'api' | 'cli' | 'http';
export type Outcome = { kind: 'ok' } | { kind: 'unclear' | 'silent'; detail: string };

export interface Env {
  /** A private temporary folder of the worker. */
  tmp: string;
  /** The reward service the http cases talk to (started once per worker). */
  service(): Promise<{ url: string; port: number; images: string }>;
}

export interface FuzzCase {
  id: string;
  group: Group;
  run(env: Env): Promise<Outcome>;
}

const OK: Outcome = { kind: 'ok' };
const unclear = (detail: string): Outcome => ({ kind: 'unclear', detail });
const silent = (detail: string): Outcome => ({ kind: 'silent', detail });

function show(v: unknown): string {
  if (v instanceof Tensor || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'symbol') return String(v);
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
    return s === undefined ? String(v) : s.length > 120 ? s.slice(0, 117) + '...' : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** Disposes the tensors in a result (kernels return Tensors or objects of them). */
function dispose(v: unknown): void {
  if (v instanceof Tensor) v.dispose();
  else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) for (const x of Object.values(v)) if (x instanceof Tensor) x.dispose();
}

// ---- public APIs -----------------------------------------------------------------------------------

interface ArgSpec {
  name: string;
  kind: Kind;
  valid: () => unknown;
  optional?: boolean;
}

type Values = Record<string, unknown>;

interface ApiSpec {
  name: string;
  args: ArgSpec[];
  call(v: Values): unknown;
  /** Problems of an accepted input's result (null: fine). */
  validate?(result: unknown, v: Values): string | null;
  /** Other arguments a refusal may name (a length that disagrees with another argument's). */
  related?: string[];
  /** Error classes that are as clear as TypeError/RangeError for this API (e.g. the service's RequestError). */
  errors?: Array<new (...a: never[]) => Error>;
}

/** The error names the argument (its last path segment, e.g. "minRatio" of "options.minRatio"), or a related one. */
function namesArg(message: string, names: string[]): boolean {
  return names.some((n) =>
    message.includes(
      n
        .split('.')
        .pop()!
        .replace(/\[\d*\]$/, ''),
    ),
  );
}

async function classifyCall(spec: ApiSpec, v: Values, arg: ArgSpec, refuse: boolean): Promise<Outcome> {
  let result: unknown;
  try {
    result = await spec.call(v);
  } catch (e) {
    const err = e as Error;
    const clearClass = err instanceof TypeError || err instanceof RangeError || (spec.errors ?? []).some((c) => err instanceof c);
    const message = String(err?.message ?? err);
    if (!clearClass) return unclear(`${err?.constructor?.name ?? typeof err}: ${message.slice(0, 200)}`);
    if (!namesArg(message, [arg.name, ...(spec.related ?? [])])) return unclear(`the message does not name ${arg.name}: ${message.slice(0, 200)}`);
    return OK;
  }
  try {
    if (refuse) return silent(`accepted ${arg.name} = ${show(v[arg.name])} and returned ${show(result)}`);
    const problem = spec.validate?.(result, v) ?? null;
    return problem ? silent(problem) : OK;
  } finally {
    dispose(result);
  }
}

function apiCases(spec: ApiSpec): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (const arg of spec.args) {
    for (const bad of BAD_VALUES) {
      out.push({
        id: `api/${spec.name}/${arg.name}=${bad.label}`,
        group: 'api',
        run: async () => {
          const v: Values = {};
          for (const a of spec.args) v[a.name] = a.valid();
          v[arg.name] = bad.make();
          return classifyCall(spec, v, arg, mustRefuse(arg.kind, v[arg.name], arg.optional === true));
        },
      });
    }
  }
  return out;
}

/** The options object of `prefix` from the values (`prefix.key` entries), or the substituted whole object. */
function opts(v: Values, prefix: string): unknown {
  if (v[prefix] !== PARTS) return v[prefix];
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k.startsWith(prefix + '.') && x !== undefined) o[k.slice(prefix.length + 1)] = x;
  return o;
}
const PARTS = Symbol('use the option entries');
const optionsArg = (name: string): ArgSpec => ({ name, kind: 'object', valid: () => PARTS, optional: true });

const finiteInputs = (...xs: unknown[]) =>
  xs.every((x) => x === undefined || !(ArrayBuffer.isView(x) || Array.isArray(x)) || Array.from(x as ArrayLike<number>).every(Number.isFinite));

/** A Tensor of `shape` whose values are finite when `finite` says the inputs were. */
function tensorCheck(t: unknown, shape: number[], finite: boolean, what = 'result'): string | null {
  if (!(t instanceof Tensor)) return `${what} is not a Tensor: ${show(t)}`;
  if (t.shape.join() !== shape.join()) return `${what} has shape [${t.shape}], expected [${shape}]`;
  if (finite && !Array.from(t.toArray()).every(Number.isFinite)) return `${what} holds non-finite values for finite inputs: ${show(Array.from(t.toArray()))}`;
  return null;
}

const f4 = () => [0.1, -0.2, 0.3, -0.4];
const u4 = () => new Uint8Array([1, 1, 0, 1]);

const API_SPECS: ApiSpec[] = [
  {
    name: 'Tensor.from',
    args: [
      { name: 'data', kind: 'tensor', valid: f4 },
      { name: 'shape', kind: 'array', valid: () => [4], optional: true },
      optionsArg('options'),
      { name: 'options.dtype', kind: 'string', valid: () => undefined, optional: true },
      { name: 'options.device', kind: 'string', valid: () => undefined, optional: true },
    ],
    call: (v) => Tensor.from(v.data as number[], v.shape as number[], opts(v, 'options') as never),
    related: ['shape', 'dtype', 'elements'],
    validate: (r, v) => {
      const data = v.data as ArrayLike<number>;
      if (!(r instanceof Tensor)) return `not a Tensor: ${show(r)}`;
      const got = Array.from(r.toArray());
      const want = Array.from(data, (x) => (r.dtype === 'f32' ? Math.fround(x) : x));
      return r.dtype === 'bf16' || got.every((x, i) => Object.is(x, want[i])) ? null : `holds ${show(got)} for ${show(Array.from(data))}`;
    },
  },
  {
    name: 'kernels.preClipRatio',
    args: [
      { name: 'logpNew', kind: 'tensor', valid: f4 },
      { name: 'logpOld', kind: 'tensor', valid: f4 },
      optionsArg('options'),
      { name: 'options.minRatio', kind: 'number', valid: () => 0.5, optional: true },
      { name: 'options.maxRatio', kind: 'number', valid: () => 2, optional: true },
    ],
    call: (v) => kernels.preClipRatio(v.logpNew as number[], v.logpOld as number[], opts(v, 'options') as never),
    related: ['logpNew', 'logpOld', 'minRatio', 'maxRatio'],
    validate: (r, v) => tensorCheck(r, [4], finiteInputs(v.logpNew, v.logpOld)),
  },
  {
    name: 'kernels.advantageFilter',
    args: [
      { name: 'values', kind: 'tensor', valid: f4 },
      optionsArg('options'),
      { name: 'options.mask', kind: 'tensor', valid: u4, optional: true },
      { name: 'options.sigma', kind: 'number', valid: () => 3, optional: true },
      { name: 'options.eps', kind: 'number', valid: () => 1e-8, optional: true },
      { name: 'options.rule', kind: 'string', valid: () => undefined, optional: true },
    ],
    call: (v) => kernels.advantageFilter(v.values as number[], opts(v, 'options') as never),
    related: ['values', 'mask', 'u8'],
    validate: (r, v) => tensorCheck((r as { advantages?: unknown })?.advantages, [4], finiteInputs(v.values)),
  },
  {
    name: 'kernels.groupAdvantages',
    args: [
      { name: 'rewards', kind: 'tensor', valid: f4 },
      optionsArg('options'),
      { name: 'options.groupSize', kind: 'int', valid: () => 2 },
      { name: 'options.eps', kind: 'number', valid: () => 1e-6, optional: true },
      { name: 'options.scale', kind: 'string', valid: () => undefined, optional: true },
      { name: 'options.baseline', kind: 'string', valid: () => undefined, optional: true },
    ],
    call: (v) => kernels.groupAdvantages(v.rewards as number[], opts(v, 'options') as never),
    related: ['rewards', 'groupSize'],
    validate: (r, v) => tensorCheck(r, [(v.rewards as ArrayLike<number>).length], finiteInputs(v.rewards)),
  },
  {
    name: 'kernels.reinforceReturns',
    // rewards [B], mask [B, T]: the result is [B, T] with T = mask length / B.
    args: [
      optionsArg('inputs'),
      { name: 'inputs.rewards', kind: 'tensor', valid: () => [1, -1] },
      { name: 'inputs.mask', kind: 'tensor', valid: u4 },
      { name: 'inputs.gamma', kind: 'number', valid: () => 1, optional: true },
      { name: 'inputs.klCoef', kind: 'number', valid: () => 0, optional: true },
    ],
    call: (v) => kernels.reinforceReturns(opts(v, 'inputs') as never),
    related: ['rewards', 'mask', 'inputs', 'logpOld', 'logpRef'],
    validate: (r, v) => {
      const B = (v['inputs.rewards'] as ArrayLike<number>).length;
      return tensorCheck(r, [B, (v['inputs.mask'] as ArrayLike<number>).length / B], finiteInputs(v['inputs.rewards']));
    },
  },
  {
    name: 'kernels.policyLoss',
    args: [
      optionsArg('inputs'),
      { name: 'inputs.logpNew', kind: 'tensor', valid: f4 },
      { name: 'inputs.logpOld', kind: 'tensor', valid: f4 },
      { name: 'inputs.advantages', kind: 'tensor', valid: () => [1, -1, 0.5, 2] },
      { name: 'inputs.mask', kind: 'tensor', valid: u4, optional: true },
      { name: 'inputs.clipEps', kind: 'number', valid: () => 0.2, optional: true },
      { name: 'inputs.minRatio', kind: 'number', valid: () => 1e-3, optional: true },
      { name: 'inputs.maxRatio', kind: 'number', valid: () => 1e3, optional: true },
      { name: 'inputs.klCoef', kind: 'number', valid: () => 0, optional: true },
      { name: 'inputs.normalizer', kind: 'number', valid: () => undefined, optional: true },
    ],
    call: (v) => kernels.policyLoss(opts(v, 'inputs') as never),
    related: ['logpNew', 'logpOld', 'advantages', 'mask', 'shape', 'logpRef', 'inputs', 'policyLoss', 'Ratio'],
    validate: (r, v) => {
      const loss = (r as { loss?: unknown })?.loss;
      const finite = finiteInputs(v['inputs.logpNew'], v['inputs.logpOld'], v['inputs.advantages']);
      if (typeof loss !== 'number') return `loss is ${show(loss)}`;
      return finite && !Number.isFinite(loss) ? `loss ${loss} for finite inputs` : tensorCheck((r as { grad?: unknown }).grad, [4], finite, 'grad');
    },
  },
  {
    name: 'kernels.tokenLogprobs',
    args: [
      { name: 'logits', kind: 'any', valid: () => Tensor.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3]) },
      { name: 'tokens', kind: 'tensor', valid: () => new Int32Array([0, 2]) },
      optionsArg('options'),
      { name: 'options.temperature', kind: 'number', valid: () => 1, optional: true },
      { name: 'options.entropy', kind: 'bool', valid: () => undefined, optional: true },
    ],
    call: (v) => kernels.tokenLogprobs(v.logits as Tensor, v.tokens as Int32Array, opts(v, 'options') as never),
    related: ['logits', 'tokens', 'temperature', 'i32'],
    validate: (r) => tensorCheck((r as { logprobs?: unknown })?.logprobs, [2], true, 'logprobs'),
  },
  {
    name: 'resolveModelConfig',
    args: [
      optionsArg('config'),
      ...(['dModel', 'nLayers', 'nHeads', 'dFF', 'imageSize', 'patchSize', 'maxSeqLen'] as const).map((k) => ({
        name: `config.${k}`,
        kind: 'int' as Kind,
        valid: () => ({ dModel: 32, nLayers: 2, nHeads: 4, dFF: 64, imageSize: 16, patchSize: 8, maxSeqLen: 128 })[k],
      })),
      { name: 'config.nKvHeads', kind: 'int', valid: () => undefined, optional: true },
      { name: 'config.vocabSize', kind: 'int', valid: () => undefined, optional: true },
      { name: 'config.ropeTheta', kind: 'number', valid: () => undefined, optional: true },
      { name: 'config.imageMean', kind: 'array', valid: () => undefined, optional: true },
    ],
    call: (v) => resolveConfig(opts(v, 'config') as never),
    related: ['config', 'nHeads', 'dModel', 'imageSize', 'patchSize', 'maxSeqLen', 'parameters', 'head size'],
    validate: (r) => {
      const c = r as Record<string, number>;
      return Object.entries(c).every(([k, x]) => typeof x !== 'number' || (Number.isSafeInteger(x) ? x >= 1 || k === 'imageMean' : Number.isFinite(x)))
        ? null
        : `config ${show(c)}`;
    },
  },
  {
    name: 'PolicyModel.create',
    args: [
      { name: 'config', kind: 'object', valid: () => ({ dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 8, patchSize: 4, maxSeqLen: 64 }) },
      optionsArg('options'),
      { name: 'options.seed', kind: 'int', valid: () => undefined, optional: true },
      { name: 'options.device', kind: 'string', valid: () => undefined, optional: true },
    ],
    call: (v) => {
      const m = PolicyModel.create(v.config as never, opts(v, 'options') as never);
      const n = m.numParameters;
      m.dispose();
      return n;
    },
    related: ['config', 'dModel', 'nLayers', 'seed', 'device'],
    validate: (n) => (typeof n === 'number' && n > 0 ? null : `numParameters ${show(n)}`),
  },
  {
    name: 'model.logprobs',
    args: [
      { name: 'batch', kind: 'array', valid: () => [{ prompt: 'p', response: 'r' }] },
      { name: 'batch[0].prompt', kind: 'string', valid: () => 'p' },
      { name: 'batch[0].response', kind: 'any', valid: () => 'r' },
      { name: 'batch[0].image', kind: 'any', valid: () => undefined, optional: true },
      optionsArg('options'),
      { name: 'options.temperature', kind: 'number', valid: () => undefined, optional: true },
    ],
    call: async (v) => {
      const m = PolicyModel.create({ dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, imageSize: 2, patchSize: 1, maxSeqLen: 64 }, { seed: 1 });
      try {
        const batch =
          v.batch === undefined || !Array.isArray(v.batch) || v.batch.length !== 1
            ? v.batch
            : [{ prompt: v['batch[0].prompt'], response: v['batch[0].response'], image: v['batch[0].image'] }];
        const r = await m.logprobs(batch as never, opts(v, 'options') as never);
        const lp = Array.from(r.logprobs.toArray());
        r.logprobs.dispose();
        r.mask.dispose();
        return lp;
      } finally {
        m.dispose();
      }
    },
    related: ['batch', 'prompt', 'response', 'image', 'temperature', 'options'],
    validate: (lp) => (Array.isArray(lp) && lp.every((x) => Number.isFinite(x) && x <= 0) ? null : `log-probs ${show(lp)}`),
  },
  {
    name: 'new Tokenizer',
    args: [{ name: 'merges', kind: 'array', valid: () => [[104, 105]], optional: true }],
    call: (v) => new Tokenizer(v.merges as never).decode(new Tokenizer(v.merges as never).encode('hi there')),
    related: ['merges', 'merge'],
    validate: (s) => (s === 'hi there' ? null : `round trip gave ${show(s)}`),
  },
  {
    name: 'trainBpe',
    args: [{ name: 'texts', kind: 'any', valid: () => ['aaa bbb', 'aaa'] }, optionsArg('options'), { name: 'options.merges', kind: 'int', valid: () => 3 }],
    call: (v) => {
      const t = trainBpe(v.texts as string[], opts(v, 'options') as never);
      return t.decode(t.encode('aaa bbb'));
    },
    related: ['texts', 'merges', 'options'],
    validate: (s) => (s === 'aaa bbb' ? null : `round trip gave ${show(s)}`),
  },
  {
    name: 'new AdamW',
    args: [
      optionsArg('options'),
      { name: 'options.lr', kind: 'number', valid: () => 1e-3, optional: true },
      { name: 'options.betas', kind: 'array', valid: () => undefined, optional: true },
      { name: 'options.eps', kind: 'number', valid: () => undefined, optional: true },
      { name: 'options.weightDecay', kind: 'number', valid: () => undefined, optional: true },
      // 0 and Infinity both turn clipping off (documented).
      { name: 'options.maxGradNorm', kind: 'any', valid: () => undefined, optional: true },
    ],
    call: (v) => {
      const m = PolicyModel.create({ dModel: 8, nLayers: 1, nHeads: 2, dFF: 8, imageSize: 2, patchSize: 1, maxSeqLen: 16 });
      try {
        const o = new AdamW(m, opts(v, 'options') as never);
        const r = o.step();
        o.dispose();
        return r;
      } finally {
        m.dispose();
      }
    },
    related: ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'maxGradNorm', 'options'],
    validate: (r, v) => {
      const mg = v['options.maxGradNorm'];
      if (mg !== undefined && mg !== null && !(typeof mg === 'number' && mg >= 0)) return `accepted maxGradNorm ${show(mg)}`;
      return r && typeof r === 'object' ? null : `step() gave ${show(r)}`;
    },
  },
  {
    name: 'formatReward',
    args: [{ name: 'text', kind: 'string', valid: () => '<think>x</think><answer>1</answer>' }],
    call: (v) => formatReward(v.text as string),
    validate: (r) => (r === 0 || r === 1 ? null : show(r)),
  },
  {
    name: 'parseVerdict',
    args: [
      { name: 'text', kind: 'string', valid: () => '<answer>1</answer>' },
      { name: 'options', kind: 'any', valid: () => undefined, optional: true },
    ],
    call: (v) => parseVerdict(v.text as string, v.options as never),
    validate: (r) => ((r as { verdict?: unknown })?.verdict === null || [1, 2].includes((r as { verdict: number }).verdict) ? null : show(r)),
  },
  {
    name: 'resultReward',
    args: [
      { name: 'text', kind: 'string', valid: () => '<answer>1</answer>' },
      { name: 'label', kind: 'any', valid: () => 1 },
    ],
    call: (v) => resultReward(v.text as string, v.label),
    validate: (r, v) => (r === 0 || r === 1 ? ([1, 2, '1', '2'].includes(v.label as never) || r === 0 ? null : `label ${show(v.label)} accepted`) : show(r)),
  },
  {
    name: 'normalizeLabel',
    args: [{ name: 'label', kind: 'any', valid: () => '<answer>2</answer>' }],
    call: (v) => normalizeLabel(v.label),
    validate: (r, v) =>
      r === 1 || r === 2 ? (['1', '2', 1, 2].includes(v.label as never) || Array.isArray(v.label) ? null : `label ${show(v.label)} read as ${r}`) : show(r),
  },
  {
    name: 'combineReward',
    args: [
      optionsArg('parts'),
      { name: 'parts.format', kind: 'number', valid: () => 1 },
      { name: 'parts.result', kind: 'number', valid: () => 1 },
      { name: 'parts.consistency', kind: 'number', valid: () => 1 },
      { name: 'weights', kind: 'any', valid: () => undefined, optional: true },
    ],
    call: (v) => combineReward(opts(v, 'parts') as never, v.weights as never),
    related: ['parts', 'format', 'result', 'consistency', 'weights'],
    validate: (r) => (typeof r === 'number' && Number.isFinite(r) ? null : `reward ${show(r)}`),
  },
  {
    name: 'computeReward',
    args: [
      { name: 'output', kind: 'string', valid: () => '<think>Response 1 is better.</think><answer>1</answer>' },
      { name: 'label', kind: 'any', valid: () => 1 },
      { name: 'judge', kind: 'object', valid: () => new RuleBasedJudge() },
    ],
    call: (v) => computeReward(v.output as string, v.label, v.judge as never),
    related: ['output', 'label', 'judge'],
    validate: (r) => ([0, 0.5, 1, 1.5, 2].includes((r as { reward: number })?.reward) ? null : show(r)),
  },
  {
    name: 'computeRewards',
    args: [
      { name: 'outputs', kind: 'array', valid: () => ['<answer>1</answer>'] },
      { name: 'labels', kind: 'array', valid: () => [1] },
    ],
    call: (v) => computeRewards(v.outputs as string[], v.labels as unknown[], new RuleBasedJudge()),
    related: ['outputs', 'labels'],
    validate: (r, v) => (Array.isArray(r) && r.length === (v.outputs as unknown[]).length ? null : show(r)),
  },
  {
    name: 'conclusionPreference',
    args: [{ name: 'analysis', kind: 'string', valid: () => 'Response 2 is better.' }],
    call: (v) => conclusionPreference(v.analysis as string),
    related: ['analysis', 'text'],
    validate: (r) => ([1, 2, 'both', null].includes(r as never) ? null : show(r)),
  },
  {
    name: 'lastLines',
    args: [{ name: 'analysis', kind: 'string', valid: () => 'a\nb' }],
    call: (v) => lastLines(v.analysis as string),
    related: ['analysis', 'text'],
    validate: (r) => (typeof r === 'string' ? null : show(r)),
  },
  {
    name: 'extractAnalysis',
    args: [{ name: 'text', kind: 'string', valid: () => '<think>a</think>' }],
    call: (v) => extractAnalysis(v.text as string),
    validate: (r) => (typeof r === 'string' ? null : show(r)),
  },
  {
    name: 'buildPrompt',
    args: [
      { name: 'question', kind: 'string', valid: () => 'q' },
      { name: 'response1', kind: 'string', valid: () => 'a' },
      { name: 'response2', kind: 'string', valid: () => 'b' },
    ],
    call: (v) => buildPrompt(v.question as string, v.response1 as string, v.response2 as string),
    validate: (r) => (typeof r === 'string' ? null : show(r)),
  },
  {
    name: 'majorityVote',
    args: [{ name: 'verdicts', kind: 'array', valid: () => [1, 2, 2] }],
    call: (v) => majorityVote(v.verdicts as never),
    related: ['verdicts'],
    validate: (r, v) =>
      [1, 2, null].includes(r as never) && (v.verdicts as unknown[]).every((x) => x === 1 || x === 2 || x === null)
        ? null
        : `voted ${show(r)} over ${show(v.verdicts)}`,
  },
  {
    name: 'votingAtK',
    args: [
      { name: 'evals', kind: 'array', valid: () => [{ key: 'k', id: 'a', category: 'c', order: 'original', label: 1, verdicts: [1, 2, 1] }] },
      { name: 'K', kind: 'int', valid: () => 3 },
    ],
    call: (v) => votingAtK(v.evals as never, v.K as number),
    related: ['evals', 'K', 'verdicts', 'label'],
    validate: (r, v) =>
      Object.values(r as object).every((x) => typeof x === 'number' && x >= 0 && x <= 1) && Object.keys(r as object).length === v.K ? null : show(r),
  },
  {
    name: 'accuracyReport',
    args: [
      { name: 'evals', kind: 'array', valid: () => [{ key: 'k', id: 'a', category: 'c', order: 'original', label: 1, verdicts: [1] }] },
      { name: 'K', kind: 'int', valid: () => 1 },
    ],
    call: (v) => accuracyReport(v.evals as never, v.K as number),
    related: ['evals', 'K', 'verdicts', 'label'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'sniffMime',
    args: [{ name: 'bytes', kind: 'tensor', valid: () => new Uint8Array([0x89, 0x50, 0x4e, 0x47]) }],
    call: (v) => sniffMime(v.bytes as Uint8Array),
    related: ['bytes'],
    validate: (r) => (typeof r === 'string' ? null : show(r)),
  },
  {
    name: 'bytesToDataUrl',
    args: [{ name: 'bytes', kind: 'tensor', valid: () => new Uint8Array([1, 2]) }],
    call: (v) => bytesToDataUrl(v.bytes as Uint8Array),
    related: ['bytes'],
    validate: (r) => (typeof r === 'string' && r.startsWith('data:') ? null : show(r)),
  },
  {
    name: 'extractResponse',
    args: [
      { name: 'query', kind: 'string', valid: () => 'p<answer>1</answer>' },
      { name: 'prompt', kind: 'string', valid: () => 'p', optional: true },
    ],
    call: (v) => extractResponse(v.query as string, v.prompt as string),
    related: ['query', 'prompt'],
    validate: (r) => (typeof r === 'string' ? null : show(r)),
  },
  {
    name: 'getRewards',
    args: [
      { name: 'body', kind: 'object', valid: () => PARTS },
      { name: 'body.query', kind: 'array', valid: () => ['<think>Response 1 is better.</think><answer>1</answer>'] },
      { name: 'body.labels', kind: 'any', valid: () => ['1'], optional: true },
      { name: 'body.prompts', kind: 'any', valid: () => undefined, optional: true },
    ],
    call: (v) => getRewards(opts(v, 'body'), { judge: new RuleBasedJudge() }),
    errors: [RequestError],
    related: ['body', 'query', 'labels', 'prompts'],
    validate: (r, v) => {
      const rewards = (r as { rewards?: unknown[] })?.rewards;
      const q = v['body.query'] as unknown[];
      return Array.isArray(rewards) && rewards.length === q.length && rewards.every((x) => [0, 0.5, 1, 1.5, 2].includes(x as number)) ? null : show(r);
    },
  },
  {
    name: 'scorePair',
    args: [
      { name: 'body', kind: 'object', valid: () => PARTS },
      { name: 'body.question', kind: 'string', valid: () => 'q' },
      { name: 'body.response1', kind: 'string', valid: () => 'a' },
      { name: 'body.response2', kind: 'string', valid: () => 'b' },
      { name: 'body.samples', kind: 'int', valid: () => undefined, optional: true },
      { name: 'body.temperature', kind: 'number', valid: () => undefined, optional: true },
      { name: 'body.image', kind: 'string', valid: () => undefined, optional: true },
    ],
    call: (v) =>
      scorePair(opts(v, 'body'), {
        pairJudge: {
          name: 'fake',
          judge: async (_p, o) => Array.from({ length: o?.samples ?? 1 }, () => '<think>Response 2 is better.</think><answer>2</answer>'),
        },
      }),
    errors: [RequestError],
    related: ['body', 'question', 'response1', 'response2', 'samples', 'temperature', 'image'],
    validate: (r) => ((r as { verdict?: unknown })?.verdict === 2 ? null : show(r)),
  },
  {
    name: 'validateRow',
    args: [{ name: 'value', kind: 'object', valid: () => ({ id: 'a', image: 'x.png', question: 'q', response1: 'a', response2: 'b', label: 1 }) }],
    call: (v) => validateRow(v.value),
    related: ['row'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'parseJsonl',
    args: [{ name: 'text', kind: 'string', valid: () => '{"a":1}\n' }],
    call: (v) => parseJsonl(v.text as string),
    related: ['jsonl', 'text', 'line'],
    errors: [SyntaxError],
    validate: (r) => (Array.isArray(r) ? null : show(r)),
  },
  {
    name: 'fromR1Row',
    args: [{ name: 'value', kind: 'object', valid: () => toR1Row({ id: 'a', image: 'x.png', question: 'q', response1: 'a', response2: 'b', label: 1 }) }],
    call: (v) => fromR1Row(v.value, 0),
    related: ['row 1', 'message', 'answer'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'resolveSynthOptions',
    args: [
      optionsArg('options'),
      { name: 'options.n', kind: 'int', valid: () => 10 },
      { name: 'options.seed', kind: 'int', valid: () => 1, optional: true },
      { name: 'options.testFraction', kind: 'number', valid: () => undefined, optional: true },
      { name: 'options.imageSize', kind: 'int', valid: () => undefined, optional: true },
      { name: 'options.grid', kind: 'int', valid: () => undefined, optional: true },
    ],
    call: (v) => resolveSynthOptions(opts(v, 'options') as never),
    related: ['options', 'n', 'seed', 'testFraction', 'imageSize', 'grid', 'levels'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'encodePng',
    args: [
      optionsArg('img'),
      { name: 'img.width', kind: 'int', valid: () => 2 },
      { name: 'img.height', kind: 'int', valid: () => 1 },
      { name: 'img.data', kind: 'any', valid: () => new Uint8Array(6) },
    ],
    call: async (v) => (await decodeImage(await encodePng(opts(v, 'img') as never))).width,
    related: ['img', 'width', 'height', 'data', 'image'],
    validate: (w, v) => (w === v['img.width'] ? null : `decoded width ${show(w)}`),
  },
  {
    name: 'resolveTrainConfig',
    args: [
      { name: 'preset', kind: 'string', valid: () => 'smoke' },
      { name: 'overrides', kind: 'any', valid: () => ({ rl: { steps: 2 } }), optional: true },
    ],
    call: (v) => resolveTrainConfig(v.preset as string, v.overrides),
    related: ['preset', 'config', 'overrides'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'parseSchedule',
    args: [{ name: 'text', kind: 'string', valid: () => 'linear' }],
    call: (v) => parseSchedule(v.text as string),
    related: ['curriculum', 'schedule', 'text'],
    validate: (r) => (r && typeof r === 'object' ? null : show(r)),
  },
  {
    name: 'new Curriculum',
    args: [
      { name: 'items', kind: 'array', valid: () => [{ level: 1 }, { level: 2 }] },
      optionsArg('options'),
      { name: 'options.totalSteps', kind: 'int', valid: () => 4 },
      { name: 'options.batchSize', kind: 'int', valid: () => 1 },
      { name: 'options.seed', kind: 'int', valid: () => 0, optional: true },
    ],
    call: (v) => new Curriculum(v.items as never, { schedule: parseSchedule('linear'), ...(opts(v, 'options') as object) } as never).batch(0),
    related: ['items', 'totalSteps', 'batchSize', 'seed', 'options', 'level'],
    validate: (r) => (Array.isArray(r) && r.every((i) => Number.isInteger(i)) ? null : show(r)),
  },
  {
    name: 'cosineLr',
    args: [
      { name: 'step', kind: 'int', valid: () => 1 },
      { name: 'total', kind: 'int', valid: () => 10 },
      { name: 'lr', kind: 'number', valid: () => 1e-3 },
      { name: 'warmup', kind: 'int', valid: () => 2 },
      { name: 'minRatio', kind: 'number', valid: () => 0.1 },
    ],
    call: (v) => cosineLr(v.step as number, v.total as number, v.lr as number, v.warmup as number, v.minRatio as number),
    validate: (r) => (typeof r === 'number' && Number.isFinite(r) ? null : `lr ${show(r)}`),
  },
  {
    name: 'signTestP',
    args: [
      { name: 'a', kind: 'int', valid: () => 3 },
      { name: 'b', kind: 'int', valid: () => 1 },
    ],
    call: (v) => signTestP(v.a as number, v.b as number),
    validate: (r) => (typeof r === 'number' && r >= 0 && r <= 1 ? null : `p ${show(r)}`),
  },
];

/** APIs that read files or folders: bad paths and bad contents. */
function fileCases(): FuzzCase[] {
  const cases: Array<[string, (env: Env) => unknown, string[], Array<new (...a: never[]) => Error>?]> = [
    ['PolicyModel.load(missing folder)', (env) => PolicyModel.load(path.join(env.tmp, 'none')), ['config.json']],
    ['PolicyModel.load(a file)', (env) => PolicyModel.load(touch(env, 'file', 'x')), ['config.json']],
    ['PolicyModel.load(corrupt config.json)', (env) => PolicyModel.load(folderWith(env, 'm1', { 'config.json': '{"dModel": 3' })), ['config.json']],
    [
      'PolicyModel.load(config.json with nLayers 1e6)',
      (env) =>
        PolicyModel.load(
          folderWith(env, 'm2', {
            'config.json': JSON.stringify({ dModel: 32, nLayers: 1e6, nHeads: 4, dFF: 64, imageSize: 16, patchSize: 8, maxSeqLen: 128 }),
          }),
        ),
      ['nLayers'],
    ],
    [
      'PolicyModel.load(config.json of another architecture)',
      (env) =>
        PolicyModel.load(
          folderWith(env, 'm3', {
            'config.json': JSON.stringify({ architecture: 'llama', dModel: 32, nLayers: 1, nHeads: 4, dFF: 64, imageSize: 16, patchSize: 8, maxSeqLen: 128 }),
          }),
        ),
      ['architecture'],
    ],
    ['PolicyModel.load(config.json null)', (env) => PolicyModel.load(folderWith(env, 'm4', { 'config.json': 'null' })), ['config.json']],
    [
      'PolicyModel.load(truncated weights)',
      (env) =>
        PolicyModel.load(
          folderWith(env, 'm5', {
            'config.json': JSON.stringify({ dModel: 8, nLayers: 1, nHeads: 2, dFF: 8, imageSize: 2, patchSize: 1, maxSeqLen: 16 }),
            'model.safetensors': '\x10\x00\x00\x00\x00\x00\x00\x00{"a":',
          }),
        ),
      ['model.safetensors'],
    ],
    ['Tokenizer.load(corrupt tokenizer.json)', (env) => Tokenizer.load(folderWith(env, 't1', { 'tokenizer.json': '{"merges": [[1]]}' })), ['tokenizer']],
    ['loadBenchmark(missing file)', (env) => loadBenchmark('vl-rewardbench', path.join(env.tmp, 'none.jsonl')), ['none.jsonl'], [DataError]],
    ['loadBenchmark(bad name)', (env) => loadBenchmark('nope' as never, touch(env, 'b.jsonl', '{}')), ['nope', 'bench'], [DataError]],
    ['loadBenchmark(rows that are not objects)', (env) => loadBenchmark('vl-rewardbench', touch(env, 'c.jsonl', '1\n"x"\n')), ['c.jsonl', 'row'], [DataError]],
    ['LabelIndex.fromFile(missing)', (env) => LabelIndex.fromFile(path.join(env.tmp, 'none.jsonl')), ['none.jsonl'], [DataError]],
    ['LabelIndex.fromFile(rows without labels)', (env) => LabelIndex.fromFile(touch(env, 'l.jsonl', '{"prompt": "p"}\n')), ['l.jsonl'], [DataError, Error]],
    [
      'findLatestCheckpoint(corrupt state.json)',
      (env) =>
        findLatestCheckpoint(
          folderWith(env, 'run1', {
            'checkpoints/000001-x/state.json': '{',
            'checkpoints/000001-x/model/config.json': '{}',
            'checkpoints/000001-x/model/model.safetensors': '',
          }),
        ),
      ['state.json'],
      [SyntaxError],
    ],
    [
      'train(--resume of a missing folder)',
      (env) => train({ config: resolveTrainConfig('smoke'), out: path.join(env.tmp, 'no-run'), resume: true }),
      ['--resume'],
      [Error],
    ],
    [
      'train(a folder that is not a run)',
      (env) => train({ config: resolveTrainConfig('smoke'), out: folderWith(env, 'foreign', { 'notes.txt': 'x' }) }),
      ['--out', '--force'],
      [Error],
    ],
    ['train(out is a file)', (env) => train({ config: resolveTrainConfig('smoke'), out: touch(env, 'out-file', 'x') }), ['--out'], [Error]],
  ];
  return cases.map(([name, call, names, errors]) => ({
    id: `api/files/${name}`,
    group: 'api' as const,
    run: async (env: Env) => {
      try {
        const r = await call(env);
        dispose(r);
        if (r instanceof PolicyModel) r.dispose();
        return silent(`accepted, returned ${show(r)}`);
      } catch (e) {
        const err = e as Error;
        // A file that cannot be read is an Error naming it (not a TypeError/RangeError); so is a bad one.
        const clear =
          err instanceof Error &&
          (err instanceof TypeError || err instanceof RangeError || (errors ?? []).some((c) => err instanceof c) || err.constructor === Error);
        if (!clear) return unclear(`${err?.constructor?.name}: ${err?.message}`);
        return names.some((n) => err.message.includes(n)) ? OK : unclear(`the message names none of ${names.join(', ')}: ${err.message}`);
      }
    },
  }));
}

function touch(env: Env, name: string, text: string): string {
  const p = path.join(env.tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

function folderWith(env: Env, name: string, files: Record<string, string>): string {
  const dir = path.join(env.tmp, name);
  for (const [f, text] of Object.entries(files)) touch(env, path.join(name, f), text);
  return dir;
}

// ---- command line ------------------------------------------------------------------------------

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCli(argv: string[], env: Env): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => ((stdout += s), true) },
    stderr: { write: (s: string) => ((stderr += s), true) },
    env: { PATH: process.env.PATH ?? '' },
    signals: new EventEmitter(),
  };
  const cwd = process.cwd();
  process.chdir(env.tmp); // relative default outputs (runs/, eval-*) land in the worker's folder
  try {
    const code = await main(argv, io as never);
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
  }
}

/** A bad command line: exit 1 or 2, a message naming one of `names`, no stack trace. */
function cliCase(args: string[] | ((env: Env) => string[]), names: string[], label = Array.isArray(args) ? args.join(' ') : ''): FuzzCase {
  return {
    id: `cli/${label}`,
    group: 'cli',
    run: async (env) => {
      const argv = typeof args === 'function' ? args(env) : args;
      const r = await runCli(argv, env);
      if (r.code === 0) return silent(`exit 0 for a bad command line; stdout ${show(r.stdout)}`);
      if (r.code !== 1 && r.code !== 2) return unclear(`exit ${r.code}: ${r.stderr.slice(0, 200)}`);
      if (/\n\s+at \S+ \(/.test(r.stderr)) return unclear(`a stack trace: ${r.stderr.slice(0, 200)}`);
      return names.some((n) => r.stderr.includes(n)) ? OK : unclear(`names none of ${names.join(', ')}: ${r.stderr.slice(0, 200)}`);
    },
  };
}

const NUMBER_JUNK = ['abc', '-1', '1e999', '0x10', '', '1.5.2', 'NaN', '99999999999999999999'];

function cliCases(): FuzzCase[] {
  const out: FuzzCase[] = [cliCase(['nope'], ['unknown command']), cliCase(['train', '--nope'], ['--nope']), cliCase(['serve', '--port'], ['--port'])];
  for (const j of NUMBER_JUNK) {
    out.push(cliCase(['serve', '--port', j], ['--port']));
    out.push(cliCase(['serve', '--concurrency', j], ['--concurrency']));
    out.push(cliCase(['serve', '--max-body', j], ['--max-body']));
    out.push(cliCase(['serve', '--body-timeout', j], ['--body-timeout']));
    out.push(cliCase(['train', '--seed', j], ['--seed']));
    out.push(cliCase(['eval', '--bench', 'vl-rewardbench', '--data', 'x.jsonl', '--model', 'm', '--samples', j], ['--samples', '--data', 'x.jsonl']));
    out.push(cliCase(['data', 'synth', '--out', 'd', '--seed', '1', '--n', j], ['--n']));
    out.push(cliCase(['pretrain', '--out', 'p', '--steps', j], ['--steps']));
    out.push(cliCase(['pretrain', '--out', 'p', '--total-steps', j], ['--total-steps']));
    out.push(cliCase(['pretrain', '--out', 'p', '--seed', j], ['--seed']));
    out.push(cliCase(['pretrain', '--out', 'p', '--lr', j], ['--lr']));
  }
  out.push(
    cliCase(['serve', '--port', '70000'], ['--port']),
    cliCase(['serve', '--host', '999.1.1.1', '--port', '0'], ['--host', '999.1.1.1']),
    cliCase(['serve', '--images', '/no/such/folder'], ['--images']),
    cliCase((env) => ['serve', '--images', touch(env, 'img-file', 'x')], ['--images'], 'serve --images img-file'),
    cliCase(['serve', '--data', '/no/such/file.jsonl', '--port', '0'], ['/no/such/file.jsonl']),
    cliCase((env) => ['serve', '--data', touch(env, 'bad.jsonl', '{"a": '), '--port', '0'], ['bad.jsonl'], 'serve --data bad.jsonl --port 0'),
    cliCase(['serve', '--judge-model', 'x'], ['--judge']),
    cliCase(['serve', '--endpoint', 'http://127.0.0.1:1/v1'], ['--model']),
    cliCase(['serve', '--judge', 'not a url', '--judge-model', 'm', '--port', '0'], ['--judge', 'not a url', 'baseURL']),
    cliCase(['train', '--preset', 'nope'], ['--preset']),
    cliCase(['train', '--device', 'tpu'], ['--device']),
    cliCase(['train', '--algo', 'ppo'], ['--algo']),
    cliCase(['train', '--config', '/no/such.json'], ['--config']),
    cliCase(
      (env) => ['train', '--config', touch(env, 'cfg.json', '{"rl": {"steps": "many"}}'), '--out', path.join(env.tmp, 'r')],
      ['rl.steps'],
      'train --config cfg.json --out r',
    ),
    cliCase(
      (env) => ['train', '--config', touch(env, 'cfg2.json', '{"model": {"nLayers": 1000000}}'), '--out', path.join(env.tmp, 'r2')],
      ['nLayers'],
      'train --config cfg2.json --out r2',
    ),
    cliCase(
      (env) => ['train', '--config', touch(env, 'cfg3.json', '[1,'), '--out', path.join(env.tmp, 'r3')],
      ['--config'],
      'train --config cfg3.json --out r3',
    ),
    cliCase((env) => ['train', '--resume', '--out', path.join(env.tmp, 'missing-run')], ['--resume', 'missing-run'], 'train --resume --out missing-run'),
    cliCase(
      (env) => ['train', '--resume', '--out', folderWith(env, 'corrupt-run', { 'config.json': '{"preset": ' })],
      ['config.json'],
      'train --resume --out corrupt-run/',
    ),
    cliCase(
      (env) => ['train', '--preset', 'smoke', '--out', folderWith(env, 'foreign-run', { 'model/important.txt': 'x' })],
      ['--force', 'not empty'],
      'train --preset smoke --out foreign-run/',
    ),
    cliCase(['pretrain', '--nope'], ['--nope']),
    cliCase(['pretrain', '--lr', '2'], ['--lr']),
    cliCase(
      (env) => ['pretrain', '--out', path.join(env.tmp, 'p-init'), '--init', path.join(env.tmp, 'no-model')],
      ['--init', 'no-model'],
      'pretrain --init no-model',
    ),
    cliCase(
      (env) => ['pretrain', '--out', path.join(env.tmp, 'no-run'), '--export', path.join(env.tmp, 'bb')],
      ['no pretraining checkpoint'],
      'pretrain --out no-run --export bb',
    ),
    cliCase(
      (env) => ['pretrain', '--out', folderWith(env, 'foreign-pretrain', { 'notes.txt': 'x' }), '--steps', '1'],
      ['not empty'],
      'pretrain --out foreign-pretrain/ --steps 1',
    ),
    cliCase(
      (env) => ['pretrain', '--resume', '--out', folderWith(env, 'corrupt-pretrain', { 'config.json': '{"seed": ' }), '--steps', '1'],
      ['config.json'],
      'pretrain --resume --out corrupt-pretrain/ --steps 1',
    ),
    cliCase(['eval'], ['--bench']),
    cliCase(['eval', '--bench', 'nope', '--data', 'x', '--model', 'm'], ['--bench']),
    cliCase(['eval', '--bench', 'vl-rewardbench', '--data', '/no/such.jsonl', '--endpoint', 'http://127.0.0.1:1/v1', '--model', 'm'], ['/no/such.jsonl']),
    cliCase(['eval', '--bench', 'vl-rewardbench', '--data', '/no/such.jsonl', '--model', '/no/such/model'], ['/no/such', '--model']),
    cliCase(['eval', '--bench', 'vl-rewardbench', '--data', 'x', '--model', 'm', '--temperature', '-3'], ['--temperature']),
    cliCase(['eval', '--bench', 'vl-rewardbench', '--data', 'x', '--model', 'm', '--order', 'sideways'], ['--order']),
    cliCase(['data'], ['subcommand', 'synth']),
    cliCase(['data', 'nope'], ['nope']),
    cliCase(['data', 'synth', '--out', 'd', '--seed', '1', '--n', '4', '--levels', '9'], ['--levels']),
    cliCase(['data', 'synth', '--out', 'd', '--seed', '1', '--n', '4', '--kinds', 'hexagon'], ['--kinds', 'hexagon']),
    cliCase(['data', 'synth', '--out', 'd', '--seed', '1', '--n', '4', '--grid', '0'], ['--grid', 'grid']),
    cliCase(['data', 'verify', '--dir', '/no/such/dir'], ['/no/such/dir']),
    cliCase(['data', 'from-r1', '--in', '/no/such.jsonl', '--out', 'o'], ['/no/such.jsonl']),
    cliCase(
      (env) => ['data', 'from-r1', '--in', touch(env, 'r1.jsonl', '{"message": 3}\n'), '--out', path.join(env.tmp, 'o')],
      ['r1.jsonl', 'message'],
      'data from-r1 --in r1.jsonl --out o',
    ),
    cliCase(['report'], ['--runs']),
    cliCase(['report', '--runs', '/no/such/run'], ['/no/such/run']),
  );
  return out;
}

// ---- the reward service over HTTP --------------------------------------------------------------------

interface HttpReply {
  status: number;
  body: unknown;
}

function httpRequest(url: string, method: string, raw?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    if (raw !== undefined) req.write(raw);
    req.end();
  });
}

/** An error answer with one of `statuses` whose message names one of `names`; `ok` checks a 200 answer instead. */
function httpCase(
  id: string,
  send: (base: string, env: Env, images: string) => Promise<HttpReply>,
  expect: { statuses?: number[]; names?: string[]; ok?: (body: unknown) => string | null },
): FuzzCase {
  return {
    id: `http/${id}`,
    group: 'http',
    run: async (env) => {
      const svc = await env.service();
      const r = await send(svc.url, env, svc.images);
      const error = (r.body as { error?: unknown })?.error;
      if (r.status >= 500 && r.status !== 502 && r.status !== 503) return unclear(`${r.status}: ${show(r.body)}`);
      if (expect.ok) {
        if (r.status !== 200) return unclear(`${r.status} for a valid request: ${show(r.body)}`);
        const problem = expect.ok(r.body);
        return problem ? silent(problem) : OK;
      }
      if (r.status === 200) return silent(`200 for a bad request: ${show(r.body)}`);
      if (expect.statuses && !expect.statuses.includes(r.status)) return unclear(`status ${r.status} (expected ${expect.statuses}): ${show(r.body)}`);
      if (typeof error !== 'string') return unclear(`no error message: ${show(r.body)}`);
      if (/\/(tmp|home|root|srv|usr|work)\//.test(error)) return unclear(`the message shows a server path: ${error}`);
      return !expect.names || expect.names.some((n) => error.includes(n)) ? OK : unclear(`names none of ${expect.names.join(', ')}: ${error}`);
    },
  };
}

const post = (route: string, body: unknown) => (base: string) => httpRequest(base + route, 'POST', JSON.stringify(body));
const rewardsAre = (want: number[]) => (b: unknown) =>
  show((b as { rewards?: unknown }).rewards) === show(want) ? null : `rewards ${show((b as { rewards?: unknown }).rewards)}, expected ${show(want)}`;

function httpCases(): FuzzCase[] {
  const out: FuzzCase[] = [];
  const valid = { query: ['<think>Response 1 is better.</think><answer>1</answer>'], labels: ['1'] };
  for (const bad of BAD_VALUES) {
    const v = bad.make();
    if (typeof v === 'symbol' || typeof v === 'bigint' || typeof v === 'function' || v === undefined) continue; // not JSON
    let asJson: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      asJson = JSON.parse(JSON.stringify(v));
    } catch {
      continue; // BigInt arrays: not JSON either
    }
    out.push(httpCase(`/get_reward body=${bad.label}`, post('/get_reward', asJson), { statuses: [400], names: ['body', 'query'] }));
    out.push(
      httpCase(`/get_reward query=${bad.label}`, post('/get_reward', { ...valid, query: asJson }), {
        statuses: [400, 413],
        names: ['query', 'labels'],
      }),
    );
    out.push(
      httpCase(
        `/get_reward query[0]=${bad.label}`,
        post('/get_reward', { ...valid, query: [asJson] }),
        typeof asJson === 'string' ? { ok: rewardsAre([0]) } : { statuses: [400], names: ['query[0]'] },
      ),
    );
    out.push(
      httpCase(
        `/get_reward labels[0]=${bad.label}`,
        post('/get_reward', { ...valid, labels: [asJson] }),
        asJson === null || asJson === '' || asJson === 1
          ? { statuses: [400], names: ['labels[0]'] }
          : ['1', 1].includes(asJson)
            ? { ok: rewardsAre([2]) }
            : { statuses: [400], names: ['labels'] },
      ),
    );
    out.push(
      httpCase(
        `/get_reward prompts=${bad.label}`,
        post('/get_reward', { ...valid, prompts: asJson }),
        asJson === null ? { ok: rewardsAre([2]) } : { statuses: [400], names: ['prompts'] },
      ),
    );
    for (const field of ['question', 'response1', 'response2', 'samples', 'temperature', 'image']) {
      const body: Record<string, unknown> = { question: 'q', response1: 'a', response2: 'b', [field]: asJson };
      const absent = asJson === null && (field === 'samples' || field === 'temperature'); // null: the default
      const acceptable =
        absent ||
        (field === 'samples' && Number.isInteger(asJson) && asJson >= 1 && asJson <= 32) ||
        (field === 'temperature' && typeof asJson === 'number' && asJson >= 0 && asJson <= 2) ||
        (['question', 'response1', 'response2'].includes(field) && typeof asJson === 'string');
      out.push(
        httpCase(
          `/score ${field}=${bad.label}`,
          post('/score', body),
          acceptable ? { ok: (b) => ((b as { verdict?: unknown }).verdict === 2 ? null : show(b)) } : { statuses: [400], names: [field] },
        ),
      );
    }
  }
  out.push(
    httpCase('/get_reward not JSON', (base) => httpRequest(base + '/get_reward', 'POST', '{"query": ['), { statuses: [400], names: ['JSON'] }),
    httpCase('/get_reward empty body', (base) => httpRequest(base + '/get_reward', 'POST', ''), { statuses: [400], names: ['JSON'] }),
    httpCase('/get_reward 1 MB of [', (base) => httpRequest(base + '/get_reward', 'POST', '['.repeat(1 << 20)), { statuses: [400], names: ['JSON'] }),
    httpCase('/get_reward deep nesting', (base) => httpRequest(base + '/get_reward', 'POST', '['.repeat(100000) + ']'.repeat(100000)), {
      statuses: [400],
      names: ['body', 'JSON'],
    }),
    httpCase(
      '/get_reward over the body limit',
      (base) => httpRequest(base + '/get_reward', 'POST', JSON.stringify({ query: ['x'.repeat(3 << 20)], labels: [1] })),
      { statuses: [413], names: ['bytes'] },
    ),
    httpCase(
      '/get_reward declared length over the limit',
      (base) =>
        httpRequest(base + '/get_reward', 'POST', '{}', { 'content-length': String(1 << 30) }).catch(() => ({
          status: 413,
          body: { error: 'bytes (connection closed)' },
        })),
      { statuses: [413], names: ['bytes'] },
    ),
    httpCase('/get_reward many items', post('/get_reward', { query: Array(20000).fill('x'), labels: Array(20000).fill(1) }), {
      statuses: [413],
      names: ['query'],
    }),
    httpCase('/get_reward labels of another length', post('/get_reward', { ...valid, labels: ['1', '2'] }), { statuses: [400], names: ['labels'] }),
    httpCase(
      '/get_reward answer with 1 MB of spaces (issue 18)',
      post('/get_reward', { query: ['<answer>1' + ' '.repeat(1 << 20) + 'x</answer>'], labels: ['1'] }),
      { ok: rewardsAre([0]) },
    ),
    httpCase(
      '/get_reward final line with 1 MB of spaces',
      post('/get_reward', { query: ['<think>x</think>\nanswer' + ' '.repeat(1 << 20) + '1'], labels: ['1'] }),
      { ok: rewardsAre([0]) },
    ),
    httpCase(
      '/get_reward analysis with 1 MB of marks',
      post('/get_reward', { query: ['<think>' + '*'.repeat(1 << 20) + ' Response 1 is better.</think><answer>1</answer>'], labels: ['1'] }),
      { ok: rewardsAre([2]) },
    ),
    httpCase(
      '/get_reward reference and 1 MB of spaces',
      post('/get_reward', { query: ['<think>Response' + ' '.repeat(1 << 20) + '2 is better.</think><answer>1</answer>'], labels: ['1'] }),
      { ok: rewardsAre([0.5 + 0.5]) },
    ),
    httpCase('/get_reward 60,000 tag pairs', post('/get_reward', { query: ['<think>' + '</think><answer>'.repeat(60000) + '1</answer>'], labels: ['1'] }), {
      ok: rewardsAre([0]),
    }),
    httpCase('GET /get_reward', (base) => httpRequest(base + '/get_reward', 'GET'), { statuses: [405], names: ['POST'] }),
    httpCase('DELETE /health', (base) => httpRequest(base + '/health', 'DELETE'), { statuses: [405], names: ['GET'] }),
    httpCase('unknown route', (base) => httpRequest(base + '/admin', 'GET'), { statuses: [404], names: ['/admin'] }),
    httpCase('route with 12,000 slashes', (base) => httpRequest(base + '/health' + '/'.repeat(12000), 'GET'), {
      ok: (b) => ((b as { status?: string }).status === 'ok' ? null : show(b)),
    }),
    httpCase('/score image leaving the folder', post('/score', { question: 'q', response1: 'a', response2: 'b', image: '../../etc/passwd' }), {
      statuses: [400],
      names: ['image'],
    }),
    httpCase('/score absolute image path', post('/score', { question: 'q', response1: 'a', response2: 'b', image: '/etc/passwd' }), {
      statuses: [400],
      names: ['image'],
    }),
    httpCase('/score image through a symbolic link out', post('/score', { question: 'q', response1: 'a', response2: 'b', image: 'out-link.png' }), {
      statuses: [400],
      names: ['symbolic link'],
    }),
    httpCase('/score image that is a folder', post('/score', { question: 'q', response1: 'a', response2: 'b', image: 'sub' }), {
      statuses: [400],
      names: ['regular file'],
    }),
    httpCase('/score image and video', post('/score', { question: 'q', response1: 'a', response2: 'b', image: 'ok.png', video: 'ok.png' }), {
      statuses: [400],
      names: ['image', 'video'],
    }),
    httpCase('/score a judge failing on a path', post('/score', { question: 'fail', response1: 'a', response2: 'b', image: 'ok.png' }), {
      statuses: [502],
      names: ['ok.png'],
    }),
    httpCase('/score 33 samples', post('/score', { question: 'q', response1: 'a', response2: 'b', samples: 33 }), { statuses: [400], names: ['samples'] }),
    httpCase('slow upload', (_base, env) => slowUpload(env), { statuses: [408], names: ['body'] }),
  );
  return out;
}

/** A client sending the headers and one byte of a 100-byte body, then nothing: answered 408 after the body timeout. */
async function slowUpload(env: Env): Promise<HttpReply> {
  const { port } = await env.service();
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{'));
    let got = '';
    socket.on('data', (d) => (got += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 0);
      let body: unknown = got;
      try {
        body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
      } catch {
        /* raw */
      }
      resolve({ status, body });
    });
  });
}

/** The reward service of the http cases, with a folder of images and a pair judge that fails on request. */
export async function startService(tmp: string): Promise<{ url: string; port: number; images: string; close(): Promise<void> }> {
  const images = path.join(tmp, 'images');
  fs.mkdirSync(path.join(images, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(images, 'ok.png'), await encodePng({ width: 1, height: 1, data: new Uint8Array(3) } as never));
  fs.writeFileSync(path.join(tmp, 'secret.png'), 'secret');
  if (!fs.existsSync(path.join(images, 'out-link.png'))) fs.symlinkSync(path.join(tmp, 'secret.png'), path.join(images, 'out-link.png'));
  const svc = createRewardServer({
    concurrency: 2,
    maxQueue: 8,
    maxBodyBytes: 2 << 20,
    bodyTimeoutMs: 500,
    imagesDir: images,
    pairJudge: {
      name: 'fuzz',
      judge: async (pair, o) => {
        if (pair.question === 'fail') throw new Error(`cannot read image ${pair.media?.path}: EIO`);
        return Array.from({ length: o?.samples ?? 1 }, () => '<think>Response 2 is better.</think><answer>2</answer>');
      },
    },
  });
  const a = await svc.listen(0, '127.0.0.1');
  return { url: a.url, port: a.port, images, close: () => svc.close({ timeoutMs: 1000 }) };
}

/** Every case, in a fixed order (the runner and the workers build the same list). */
export function buildCorpus(): FuzzCase[] {
  return [...API_SPECS.flatMap(apiCases), ...fileCases(), ...cliCases(), ...httpCases()];
}
