/**
 * Benchmark cases for kernels.policyLoss (forward + gradient, seq-mean-token-mean, advantages [B, T], a mask).
 * Per token it must read logpNew, logpOld, advantages (f32) and the mask (u8) and write the gradient (f32):
 * 17 bytes. T = 1024, B = N / T.
 */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

const T = 1024;

interface Inputs {
  ln: Float32Array;
  lo: Float32Array;
  adv: Float32Array;
  mask: Uint8Array;
}

function inputs(n: number): Inputs {
  const ln = new Float32Array(n);
  const lo = new Float32Array(n);
  const adv = new Float32Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    ln[i] = -Math.random() * 3;
    lo[i] = -Math.random() * 3;
    adv[i] = Math.random() * 2 - 1;
    mask[i] = Math.random() < 0.9 ? 1 : 0;
  }
  return { ln, lo, adv, mask };
}

export function makeCase(log2n: number): BenchCase {
  const n = 2 ** log2n;
  const B = n / T;
  return {
    kernel: 'policyLoss',
    label: `N=2^${log2n} (B=${B}, T=${T})`,
    devices: ['cpu', 'cuda'],
    bytes: n * 17,
    native(device: Device) {
      const x = inputs(n);
      const shape = [B, T];
      const args = {
        logpNew: Tensor.from(x.ln, shape, { device }),
        logpOld: Tensor.from(x.lo, shape, { device }),
        advantages: Tensor.from(x.adv, shape, { device }),
        mask: Tensor.from(x.mask, shape, { device }),
      };
      return {
        run() {
          kernels.policyLoss(args).grad.dispose();
          if (device === 'cuda') synchronize();
        },
        dispose() {
          for (const t of Object.values(args)) t.dispose();
        },
      };
    },
    plainTs() {
      const { ln, lo, adv, mask } = inputs(n);
      const grad = new Float32Array(n);
      const lmin = Math.log(1e-3);
      const lmax = Math.log(1e3);
      const eps = 0.2;
      let sink = 0;
      return {
        run() {
          let seqs = 0;
          for (let b = 0; b < B; b++) {
            let cnt = 0;
            for (let t = 0; t < T; t++) cnt += mask[b * T + t];
            if (cnt > 0) seqs++;
          }
          let loss = 0;
          for (let b = 0; b < B; b++) {
            let cnt = 0;
            for (let t = 0; t < T; t++) cnt += mask[b * T + t];
            const w = cnt > 0 ? 1 / (cnt * seqs) : 0;
            for (let t = 0; t < T; t++) {
              const i = b * T + t;
              if (!mask[i]) {
                grad[i] = 0;
                continue;
              }
              const d = ln[i] - lo[i];
              const c = Math.min(Math.max(d, lmin), lmax);
              const r = Math.exp(c);
              const a = adv[i];
              const s1 = r * a;
              const s2 = Math.min(Math.max(r, 1 - eps), 1 + eps) * a;
              loss += -Math.min(s1, s2) * w;
              const clipped = (a > 0 && r > 1 + eps) || (a < 0 && r < 1 - eps);
              grad[i] = d >= lmin && d <= lmax && !clipped ? -a * r * w : 0;
            }
          }
          sink += loss;
        },
        dispose() {
          if (sink === 42) console.log(sink); // keeps the loss alive
        },
      };
    },
    torch: {
      // OpenRLHF's PolicyLoss with StableReinforce's Pre-CLIP; masked mean per sequence, then mean.
      setup: [
        'import math',
        `B, T = ${B}, ${T}`,
        'logp = (-torch.rand(B, T, device=DEVICE) * 3).requires_grad_()',
        'old = -torch.rand(B, T, device=DEVICE) * 3',
        'adv = torch.rand(B, T, device=DEVICE) * 2 - 1',
        'mask = (torch.rand(B, T, device=DEVICE) < 0.9).float()',
        'lo, hi, eps = math.log(1e-3), math.log(1e3), 0.2',
      ].join('\n'),
      step: [
        'logp.grad = None',
        'ratio = (logp - old).clamp(lo, hi).exp()',
        'surr1 = ratio * adv',
        'surr2 = ratio.clamp(1 - eps, 1 + eps) * adv',
        'loss = -torch.min(surr1, surr2)',
        'loss = ((loss * mask).sum(-1) / mask.sum(-1)).mean()',
        'loss.backward()',
      ].join('\n'),
      compile: true,
    },
  };
}

// 2^10 and 2^14: calls where fixed per-call costs show (one chunk, no thread-pool work).
export const cases: BenchCase[] = [10, 14, 16, 20, 24].map(makeCase);
