/**
 * Benchmark cases for kernels.groupAdvantages (GRPO: baseline 'mean', scale 'std', groups of G = 8 samples):
 * per sample one f32 reward read and one f32 advantage written (8 bytes).
 */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

const G = 8;
const EPS = 1e-6;

function rewards(n: number): Float32Array {
  // Mostly 0/1 rewards (rule-judged answers) with some partial credit.
  return Float32Array.from({ length: n }, () => (Math.random() < 0.2 ? Math.random() : Math.random() < 0.5 ? 1 : 0));
}

export function makeCase(log2n: number): BenchCase {
  const n = 2 ** log2n;
  return {
    kernel: 'groupAdvantages',
    label: `N=2^${log2n} (G=${G})`,
    devices: ['cpu', 'cuda'],
    bytes: n * 8,
    native(device: Device) {
      const t = Tensor.from(rewards(n), [n], { device });
      return {
        run() {
          kernels.groupAdvantages(t, { groupSize: G }).dispose();
          if (device === 'cuda') synchronize();
        },
        dispose() {
          t.dispose();
        },
      };
    },
    plainTs() {
      const r = rewards(n);
      const out = new Float32Array(n);
      return {
        run() {
          for (let g = 0; g < n; g += G) {
            let sum = 0;
            for (let i = g; i < g + G; i++) sum += r[i];
            const mean = sum / G;
            let m2 = 0;
            for (let i = g; i < g + G; i++) m2 += (r[i] - mean) ** 2;
            const std = Math.sqrt(m2 / (G - 1)); // unbiased, as torch's .std()
            for (let i = g; i < g + G; i++) out[i] = std + EPS > 0 ? (r[i] - mean) / (std + EPS) : 0;
          }
        },
      };
    },
    torch: {
      setup: [`n, G, eps = ${n}, ${G}, ${EPS}`, 'rewards = (torch.rand(n, device=DEVICE) < 0.5).float()'].join('\n'),
      // What GRPO implementations write: view as [groups, G], normalise each row.
      step: ['r = rewards.view(-1, G)', 'a = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps)).view(-1)'].join('\n'),
      compile: true,
    },
  };
}

// 2^10 and 2^14: calls where fixed per-call costs show (one chunk, no thread-pool work).
export const cases: BenchCase[] = [10, 14, 16, 20, 24].map(makeCase);
