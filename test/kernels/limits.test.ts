/**
 * The ranges of numeric inputs are stated once, in each kernel's header (native/core/limits.h), and exported
 * as native.limits. Here every exported range is fed its boundary values (each bound, the nearest double
 * beyond it, a non-integer for integer ranges) through both paths: the public TypeScript API and the raw
 * binding. A value inside the range must pass the range check on both; a value outside must fail on both
 * with the same RangeError, word for word: `${name} must be ${text}, got ${value}`.
 */
import { AdamW, PolicyModel, Tensor, kernels } from '../../lib';
import type { AdamWOptions } from '../../lib';
import { loadNative } from '../../lib/native/loader';
import type { NativeLimit } from '../../lib/native/types';

type Call = (key: string, value: number) => unknown;

interface Harness {
  /** The public TypeScript call with input `key` set to `value`, every other input valid; absent: no such option. */
  viaTs?: Call;
  viaNative: Call;
  /** How each path names the input when it differs from limit.name. */
  tsName?: Record<string, string>;
  nativeName?: Record<string, string>;
  /** Inputs the TypeScript API has no option for. */
  notInTs?: string[];
  /** Inputs bound to another input by a further rule (minRatio < maxRatio, ...): in range, that rule may still fail. */
  related?: string[];
  /** Whether a value inside the range is cheap enough to run (a 64 GB copy is not). */
  runs?: (key: string, value: number) => boolean;
}

const native = loadNative() as unknown as Record<string, (args: object) => unknown> & {
  limits: Record<string, Record<string, NativeLimit>>;
};

const bits = new Float64Array(1);
const asInt = new BigInt64Array(bits.buffer);
/** The next double towards +Infinity (dir 1) or -Infinity (dir -1). */
function nextDouble(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * Number.MIN_VALUE;
  bits[0] = x;
  asInt[0] += BigInt(x > 0 === dir > 0 ? 1 : -1);
  return bits[0];
}

function inRange(l: NativeLimit, v: number): boolean {
  return (l.minOpen ? v > l.min : v >= l.min) && (l.maxOpen ? v < l.max : v <= l.max) && (!l.integer || Number.isInteger(v));
}

function probes(l: NativeLimit): number[] {
  const out: number[] = [];
  for (const [bound, outward] of [
    [l.min, -1],
    [l.max, 1],
  ] as const) {
    if (!Number.isFinite(bound)) {
      out.push(outward * 1e300);
      continue;
    }
    out.push(bound, l.integer ? bound + outward : nextDouble(bound, outward));
    if (!l.integer) out.push(nextDouble(bound, -outward as 1 | -1));
  }
  if (l.integer) out.push(l.min + 0.5);
  return out;
}

/** The words the range should read as, from its numbers. */
function expectedText(l: NativeLimit): string {
  if (l.integer) return l.min === 1 && l.max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `an integer in [${l.min}, ${l.max}]`;
  if (Number.isFinite(l.min) && Number.isFinite(l.max)) return `in ${l.minOpen ? '(' : '['}${l.min}, ${l.max}${l.maxOpen ? ')' : ']'}`;
  if (Number.isFinite(l.min)) return `${l.minOpen ? '>' : '>='} ${l.min}`;
  return `${l.maxOpen ? '<' : '<='} ${l.max}`;
}

function errorOf(call: () => unknown): Error | undefined {
  try {
    call();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('numeric ranges: one statement, enforced alike on both paths', () => {
  const f = (n: number, v = -1) => new Float32Array(n).fill(v);
  const ln = Tensor.from(f(6, -1.2), [2, 3]);
  const lo = Tensor.from(f(6, -1), [2, 3]);
  const adv = Tensor.from([1, -1]);
  const mask = Tensor.from(new Uint8Array([1, 1, 0, 1, 0, 0]), [2, 3]);
  const values = Tensor.from([1, 2, 3, 4]);
  const rewards = Tensor.from([1, 0, 1, 0, 1, 1]);
  const logits = Tensor.from(f(6, 0.5), [2, 3]);
  const tokens = Tensor.from(new Int32Array([0, 2]));
  const gradLp = Tensor.from([1, 1]);
  const model = PolicyModel.create({ dModel: 16, nLayers: 1, nHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 32 });
  const state = [1, 2, 3, 4].map(() => Tensor.from([0.5, -0.5]));
  afterAll(() => {
    for (const t of [ln, lo, adv, mask, values, rewards, logits, tokens, gradLp, ...state]) t.dispose();
    model.dispose();
  });

  const harnesses: Record<string, Harness> = {
    preClipRatio: {
      viaTs: (k, v) => kernels.preClipRatio(ln, lo, { [k]: v }),
      viaNative: (k, v) => native.preClipRatio({ logpNew: ln.handle, logpOld: lo.handle, minRatio: 1e-3, maxRatio: 1e3, [k]: v }),
      related: ['minRatio', 'maxRatio'],
    },
    advantageFilter: {
      viaTs: (k, v) => kernels.advantageFilter(values, { [k]: v }),
      viaNative: (k, v) => native.advantageFilter({ values: values.handle, sigma: 3, eps: 1e-8, rule: 'paper', [k]: v }),
    },
    groupAdvantages: {
      viaTs: (k, v) => kernels.groupAdvantages(rewards, { groupSize: 3, scale: 'none', [k]: v }),
      viaNative: (k, v) => native.groupAdvantages({ rewards: rewards.handle, groupSize: 3, scale: 'none', baseline: 'mean', eps: 1e-6, [k]: v }),
      related: ['groupSize'], // must divide the number of rewards
    },
    reinforceReturns: {
      viaTs: (k, v) => kernels.reinforceReturns({ rewards: adv, mask, logpOld: lo, logpRef: ln, [k]: v }),
      viaNative: (k, v) =>
        native.reinforceReturns({
          rewards: adv.handle,
          mask: mask.handle,
          logpOld: lo.handle,
          logpRef: ln.handle,
          klCoef: 0,
          klEstimator: 'k1',
          gamma: 1,
          [k]: v,
        }),
    },
    tokenLogprobs: {
      viaTs: (k, v) => kernels.tokenLogprobs(logits, tokens, { [k]: v }),
      viaNative: (k, v) => native.tokenLogprobs({ logits: logits.handle, tokens: tokens.handle, temperature: 1, entropy: true, [k]: v }),
    },
    tokenLogprobsBackward: {
      viaTs: (k, v) => kernels.tokenLogprobsBackward(logits, tokens, gradLp, { [k]: v }),
      viaNative: (k, v) => native.tokenLogprobsBackward({ logits: logits.handle, tokens: tokens.handle, gradLogprobs: gradLp.handle, temperature: 1, [k]: v }),
    },
    policyLoss: {
      viaTs: (k, v) => kernels.policyLoss({ logpNew: ln, logpOld: lo, advantages: adv, logpRef: lo, [k]: v }),
      viaNative: (k, v) =>
        native.policyLoss({
          logpNew: ln.handle,
          logpOld: lo.handle,
          advantages: adv.handle,
          logpRef: lo.handle,
          clipEps: 0.2,
          clipEpsHigh: 0.2,
          minRatio: 1e-3,
          maxRatio: 1e3,
          klCoef: 0,
          klEstimator: 'k1',
          aggregation: 'token-mean',
          [k]: v,
        }),
      related: ['minRatio', 'maxRatio'],
    },
    adamwStep: {
      // The optimizer checks its options when constructed, with the step's numbers.
      viaTs: (k, v) => {
        const options: AdamWOptions =
          k === 'beta1' ? { betas: [v, 0.999] } : k === 'beta2' ? { betas: [0.9, v] } : k === 'maxNorm' ? { maxGradNorm: v } : { [k]: v };
        new AdamW(model, options).dispose();
      },
      viaNative: (k, v) => {
        const [p, g, m, s] = state.map((t) => [t.handle]);
        const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxNorm: 1, step: 1 };
        const weightDecay = Float64Array.of(k === 'weightDecay' ? v : 0.01);
        return native.adamwStep({ params: p, grads: g, m, v: s, weightDecay, ...hyper, ...(k === 'weightDecay' ? {} : { [k]: v }) });
      },
      tsName: {
        lr: 'options.lr',
        beta1: 'options.betas[0]',
        beta2: 'options.betas[1]',
        eps: 'options.eps',
        weightDecay: 'options.weightDecay',
        maxNorm: 'options.maxGradNorm',
      },
      nativeName: { weightDecay: 'weightDecay[0]' },
      notInTs: ['step'], // the optimizer counts its steps
    },
    measureCopyBandwidth: {
      viaNative: (k, v) => native.measureCopyBandwidth({ device: 'cpu', bytes: 1, repeats: 1, [k]: v }),
      runs: (k, v) => k !== 'bytes' || v <= 1 << 20,
    },
    measureFmaPeak: {
      viaNative: (k, v) => native.measureFmaPeak({ kernel: 'avx2', threads: 'one', seconds: 0.001, repeats: 1, [k]: v }),
      runs: () => false, // in range it measures for up to a minute: only the refusals are checked
    },
  };

  test('every function with ranges has a harness here, and each range reads as its numbers', () => {
    expect(Object.keys(native.limits).sort()).toEqual(Object.keys(harnesses).sort());
    for (const limits of Object.values(native.limits)) {
      for (const l of Object.values(limits)) expect(l.text).toBe(expectedText(l));
    }
  });

  for (const [fn, h] of Object.entries(harnesses)) {
    test(`${fn}: boundary values`, () => {
      for (const [key, l] of Object.entries(native.limits[fn] ?? {})) {
        const paths: Array<[string, Call, string]> = [['native', h.viaNative, h.nativeName?.[key] ?? l.name]];
        if (h.viaTs && !h.notInTs?.includes(key)) paths.push(['TypeScript', h.viaTs, h.tsName?.[key] ?? l.name]);
        for (const v of probes(l)) {
          const inside = inRange(l, v);
          if (inside && h.runs && !h.runs(key, v)) continue;
          for (const [path, call, name] of paths) {
            const rangeError = `${name} must be ${l.text}, got ${v}`;
            const err = errorOf(() => call(key, v));
            const where = `${fn} ${key} = ${v} via ${path}`;
            if (inside) {
              const failed = err && (!h.related?.includes(key) || err.message.startsWith(`${name} must be ${l.text}`));
              expect(failed ? `${where}: ${err.message}` : 'passes').toBe('passes');
            } else {
              expect(`${where}: ${err?.name}: ${err?.message}`).toBe(`${where}: RangeError: ${rangeError}`);
            }
          }
        }
      }
    });
  }
});
