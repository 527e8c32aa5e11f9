/**
 * Benchmark cases for kernels.reinforceReturns (REINFORCE++ returns with a k1 KL penalty, gamma 1): per token
 * it must read the mask (u8), logpOld and logpRef (f32) and write the return (f32): 13 bytes (the [B]
 * rewards are negligible). T = 1024, B = N / T; each row's response fills a random prefix of 1/4 to all of T.
 */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

const T = 1024;
const KL_COEF = 0.01;

interface Inputs {
  rewards: Float32Array;
  mask: Uint8Array;
  old: Float32Array;
  ref: Float32Array;
}

function inputs(B: number): Inputs {
  const n = B * T;
  const mask = new Uint8Array(n);
  for (let b = 0; b < B; b++) mask.fill(1, b * T, b * T + T / 4 + Math.floor(Math.random() * (T - T / 4)));
  return {
    rewards: Float32Array.from({ length: B }, () => (Math.random() < 0.5 ? 1 : 0)),
    mask,
    old: Float32Array.from({ length: n }, () => -Math.random() * 3),
    ref: Float32Array.from({ length: n }, () => -Math.random() * 3),
  };
}

export function makeCase(log2n: number): BenchCase {
  const n = 2 ** log2n;
  const B = n / T;
  return {
    kernel: 'reinforceReturns',
    label: `N=2^${log2n} (B=${B}, T=${T})`,
    devices: ['cpu', 'cuda'],
    bytes: n * 13,
    native(device: Device) {
      const x = inputs(B);
      const args = {
        rewards: Tensor.from(x.rewards, [B], { device }),
        mask: Tensor.from(x.mask, [B, T], { device }),
        logpOld: Tensor.from(x.old, [B, T], { device }),
        logpRef: Tensor.from(x.ref, [B, T], { device }),
      };
      return {
        run() {
          kernels.reinforceReturns({ ...args, klCoef: KL_COEF }).dispose();
          if (device === 'cuda') synchronize();
        },
        dispose() {
          for (const t of Object.values(args)) t.dispose();
        },
      };
    },
    plainTs() {
      const { rewards, mask, old, ref } = inputs(B);
      const out = new Float32Array(n);
      return {
        run() {
          for (let b = 0; b < B; b++) {
            const row = b * T;
            let last = -1;
            for (let t = T - 1; t >= 0 && last < 0; t--) if (mask[row + t]) last = t;
            let g = 0;
            for (let t = T - 1; t >= 0; t--) {
              const i = row + t;
              if (!mask[i]) {
                out[i] = 0; // r = 0 here; the return passes on (gamma 1)
                continue;
              }
              g += (t === last ? rewards[b] : 0) - KL_COEF * (old[i] - ref[i]);
              out[i] = g;
            }
          }
        },
      };
    },
    torch: {
      setup: [
        `B, T, kl_coef = ${B}, ${T}, ${KL_COEF}`,
        'lengths = torch.randint(T // 4, T + 1, (B, 1), device=DEVICE)',
        'mask = (torch.arange(T, device=DEVICE) < lengths).float()',
        'rewards = (torch.rand(B, device=DEVICE) < 0.5).float()',
        'old = -torch.rand(B, T, device=DEVICE) * 3',
        'ref = -torch.rand(B, T, device=DEVICE) * 3',
      ].join('\n'),
      // OpenRLHF's token rewards (reward at the last valid token, -kl_coef * k1 everywhere valid); with gamma 1
      // the returns are a reversed cumulative sum (its general-gamma loop over T would be far slower).
      step: [
        'r = -kl_coef * (old - ref) * mask',
        'last = T - 1 - mask.flip(1).argmax(1, keepdim=True)',
        'r = r.scatter_add(1, last, rewards.unsqueeze(1))',
        'ret = r.flip(1).cumsum(1).flip(1) * mask',
      ].join('\n'),
      compile: true,
    },
  };
}

// 2^10 and 2^14: calls where fixed per-call costs show (one chunk, no thread-pool work).
export const cases: BenchCase[] = [10, 14, 16, 20, 24].map(makeCase);
