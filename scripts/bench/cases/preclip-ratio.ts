/** Benchmark cases for kernels.preClipRatio: two f32 reads, one f32 write per element. */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

function inputs(n: number): [Float32Array, Float32Array] {
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = -Math.random() * 3;
    b[i] = -Math.random() * 3;
  }
  return [a, b];
}

export function makeCase(log2n: number): BenchCase {
  const n = 2 ** log2n;
  return {
    kernel: 'preClipRatio',
    label: `N=2^${log2n}`,
    devices: ['cpu', 'cuda'],
    bytes: n * 12,
    native(device: Device) {
      const [a, b] = inputs(n);
      const ta = Tensor.from(a, [n], { device });
      const tb = Tensor.from(b, [n], { device });
      return {
        run() {
          kernels.preClipRatio(ta, tb).dispose();
          if (device === 'cuda') synchronize();
        },
        dispose() {
          ta.dispose();
          tb.dispose();
        },
      };
    },
    plainTs() {
      const [a, b] = inputs(n);
      const out = new Float32Array(n);
      const lo = Math.log(1e-3);
      const hi = Math.log(1e3);
      return {
        run() {
          for (let i = 0; i < n; i++) out[i] = Math.exp(Math.min(Math.max(a[i] - b[i], lo), hi));
        },
      };
    },
    torch: {
      setup: `n = ${n}\na = -torch.rand(n, device=DEVICE) * 3\nb = -torch.rand(n, device=DEVICE) * 3\nlo, hi = math.log(1e-3), math.log(1e3)`,
      step: 'r = (a - b).clamp(lo, hi).exp()',
      compile: true,
    },
  };
}

// 2^10 and 2^14: calls where fixed per-call costs show (one chunk, no thread-pool work).
export const cases: BenchCase[] = [10, 14, 16, 20, 24].map(makeCase);
