/**
 * Benchmark cases for kernels.tokenLogprobs (forward, with entropy) and kernels.tokenLogprobsBackward (with
 * gradEntropy). Bytes are the least that must move: forward reads the logits once (+ 4-byte token, 8 bytes of
 * outputs per row); backward reads the logits and writes a gradient of the same dtype (+ token and two upstream
 * gradients per row). The native backward reads the logits twice (statistics, then gradient): unless the second
 * read hits L2 its floor fraction is at most ~2/3.
 * GPU: N = 8192, V = 151936 (Qwen2.5 vocabulary), bf16 and f32. CPU-sized: N = 256, V = 32000.
 */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

type LogitsDType = 'f32' | 'bf16';

/** Logits ~ N(0, 3^2): a random block tiled over [n, v] (rows differ: the block length is not a multiple of v). */
function logitsData(n: number, v: number, dtype: LogitsDType): Float32Array | Uint16Array {
  const total = n * v;
  const block = Math.min(total, 1_000_003);
  const f = new Float32Array(block);
  for (let i = 0; i < block; i++) {
    const u = Math.max(Math.random(), 1e-12);
    f[i] = 3 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
  }
  let out: Float32Array | Uint16Array;
  if (dtype === 'f32') {
    out = new Float32Array(total);
    out.set(f.subarray(0, block));
  } else {
    // Raw bf16 bits (truncation is fine for random data); avoids a 4-byte-per-element staging copy.
    const bits = new Uint32Array(f.buffer);
    out = new Uint16Array(total);
    for (let i = 0; i < block; i++) out[i] = bits[i] >>> 16;
  }
  for (let filled = block; filled < total; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, total - filled));
  return out;
}

/** The plain-TypeScript baselines' log-sum-exp of one row (two passes: max, then sum). */
function rowLogSumExp(x: Float32Array, o: number, v: number): number {
  let m = -Infinity;
  for (let j = 0; j < v; j++) if (x[o + j] > m) m = x[o + j];
  let s = 0;
  for (let j = 0; j < v; j++) s += Math.exp(x[o + j] - m);
  return m + Math.log(s);
}

function tokensData(n: number, v: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(Math.random() * v));
}

function gradData(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
}

const torchSetup = (n: number, v: number, dtype: LogitsDType, backward: boolean) =>
  [
    `N, V = ${n}, ${v}`,
    `logits = (torch.randn(N, V, device=DEVICE) * 3).to(torch.${dtype === 'bf16' ? 'bfloat16' : 'float32'})`,
    'tokens = torch.randint(0, V, (N,), device=DEVICE)',
    ...(backward ? ['logits.requires_grad_()', 'g_lp = torch.rand(N, device=DEVICE) * 2 - 1', 'g_h = torch.rand(N, device=DEVICE) * 2 - 1'] : []),
  ].join('\n');

// What a user writes: f32 log-softmax, gather, entropy from the log-probs.
const torchForward = [
  'lp_all = torch.log_softmax(logits.float(), dim=-1)',
  'lp = lp_all.gather(-1, tokens[:, None]).squeeze(-1)',
  'ent = -(lp_all.exp() * lp_all).sum(-1)',
].join('\n');

// torch has no stand-alone backward: autograd on a leaf, so this step includes its forward.
const torchBackward = ['logits.grad = None', torchForward, 'torch.autograd.backward([lp, ent], [g_lp, g_h])'].join('\n');

function forwardCase(n: number, v: number, dtype: LogitsDType, devices: Device[], withTs: boolean): BenchCase {
  const esize = dtype === 'bf16' ? 2 : 4;
  return {
    kernel: 'tokenLogprobs',
    label: `N=${n} V=${v} ${dtype} +entropy`,
    devices,
    bytes: n * v * esize + n * 12,
    native(device: Device) {
      const lg = Tensor.from(logitsData(n, v, dtype), [n, v], { dtype, device });
      const tk = Tensor.from(tokensData(n, v), [n], { device });
      return {
        run() {
          // The status (token check, non-finite rows) is read back inside the call.
          const r = kernels.tokenLogprobs(lg, tk, { entropy: true });
          if (device === 'cuda') synchronize();
          r.logprobs.dispose();
          r.entropy?.dispose();
        },
        dispose() {
          lg.dispose();
          tk.dispose();
        },
      };
    },
    plainTs: withTs
      ? () => {
          const x = logitsData(n, v, 'f32') as Float32Array;
          const tokens = tokensData(n, v);
          const lp = new Float32Array(n);
          const ent = new Float32Array(n);
          return {
            run() {
              for (let i = 0; i < n; i++) {
                const o = i * v;
                const lse = rowLogSumExp(x, o, v);
                let px = 0;
                for (let j = 0; j < v; j++) px += Math.exp(x[o + j] - lse) * x[o + j];
                lp[i] = x[o + tokens[i]] - lse;
                ent[i] = lse - px;
              }
            },
          };
        }
      : undefined,
    torch: { setup: torchSetup(n, v, dtype, false), step: torchForward, compile: true },
  };
}

function backwardCase(n: number, v: number, dtype: LogitsDType, devices: Device[], withTs: boolean): BenchCase {
  const esize = dtype === 'bf16' ? 2 : 4;
  return {
    kernel: 'tokenLogprobsBackward',
    label: `N=${n} V=${v} ${dtype} +gradEntropy`,
    devices,
    bytes: 2 * n * v * esize + n * 12,
    native(device: Device) {
      const lg = Tensor.from(logitsData(n, v, dtype), [n, v], { dtype, device });
      const tk = Tensor.from(tokensData(n, v), [n], { device });
      const glp = Tensor.from(gradData(n), [n], { device });
      const gh = Tensor.from(gradData(n), [n], { device });
      return {
        run() {
          const g = kernels.tokenLogprobsBackward(lg, tk, glp, { gradEntropy: gh });
          if (device === 'cuda') synchronize();
          g.dispose();
        },
        dispose() {
          for (const t of [lg, tk, glp, gh]) t.dispose();
        },
      };
    },
    plainTs: withTs
      ? () => {
          const x = logitsData(n, v, 'f32') as Float32Array;
          const tokens = tokensData(n, v);
          const glp = gradData(n);
          const gh = gradData(n);
          const grad = new Float32Array(n * v);
          return {
            run() {
              for (let i = 0; i < n; i++) {
                const o = i * v;
                const lse = rowLogSumExp(x, o, v);
                let h = 0;
                for (let j = 0; j < v; j++) {
                  const l = x[o + j] - lse;
                  h -= Math.exp(l) * l;
                }
                for (let j = 0; j < v; j++) {
                  const l = x[o + j] - lse;
                  const p = Math.exp(l);
                  grad[o + j] = (j === tokens[i] ? glp[i] : 0) - p * (glp[i] + gh[i] * (l + h));
                }
              }
            },
          };
        }
      : undefined,
    torch: { setup: torchSetup(n, v, dtype, true), step: torchBackward, compile: true },
  };
}

export const cases: BenchCase[] = [
  // CPU-sized (also run on the GPU, where they mostly measure launch + readback).
  forwardCase(256, 32000, 'f32', ['cpu', 'cuda'], true),
  backwardCase(256, 32000, 'f32', ['cpu', 'cuda'], true),
  forwardCase(256, 32000, 'bf16', ['cpu'], false),
  // GPU: a Qwen2.5-VL-sized vocabulary and a full micro-batch of tokens.
  forwardCase(8192, 151936, 'bf16', ['cuda'], false),
  forwardCase(8192, 151936, 'f32', ['cuda'], false),
  backwardCase(8192, 151936, 'bf16', ['cuda'], false),
  backwardCase(8192, 151936, 'f32', ['cuda'], false),
];
