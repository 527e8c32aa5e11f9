/**
 * Benchmark cases for kernels.advantageFilter: per element an f32 value and a u8 mask read, an f32 advantage
 * written (9 bytes; the kernel reads the inputs twice, the second time mostly from cache at small N).
 */
import { Tensor, kernels, synchronize } from '../../../lib';
import type { Device } from '../../../lib';
import type { BenchCase } from '../types';

function inputs(n: number): [Float32Array, Uint8Array] {
  const v = new Float32Array(n);
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Roughly normal advantages with a few outliers; 90% of tokens valid.
    v[i] = (Math.random() + Math.random() + Math.random() - 1.5) * 2 + (Math.random() < 0.003 ? 40 : 0);
    m[i] = Math.random() < 0.9 ? 1 : 0;
  }
  return [v, m];
}

export function makeCase(log2n: number): BenchCase {
  const n = 2 ** log2n;
  return {
    kernel: 'advantageFilter',
    label: `N=2^${log2n}`,
    devices: ['cpu', 'cuda'],
    bytes: n * 9,
    native(device: Device) {
      const [v, m] = inputs(n);
      const tv = Tensor.from(v, [n], { device });
      const tm = Tensor.from(m, [n], { device });
      return {
        run() {
          // The statistics are read back inside the call, so the result is already usable.
          kernels.advantageFilter(tv, { mask: tm }).advantages.dispose();
          if (device === 'cuda') synchronize();
        },
        dispose() {
          tv.dispose();
          tm.dispose();
        },
      };
    },
    plainTs() {
      const [v, m] = inputs(n);
      const out = new Float32Array(n);
      const sigma = 3;
      const eps = 1e-8;
      return {
        run() {
          let count = 0;
          let sum = 0;
          for (let i = 0; i < n; i++) {
            if (m[i] && Number.isFinite(v[i])) {
              count++;
              sum += v[i];
            }
          }
          const mean = count ? sum / count : 0;
          let m2 = 0;
          for (let i = 0; i < n; i++) if (m[i] && Number.isFinite(v[i])) m2 += (v[i] - mean) ** 2;
          const std = count ? Math.sqrt(m2 / count) : 0;
          const inv = std > 0 ? 1 / (std + eps) : 0;
          for (let i = 0; i < n; i++) {
            const z = (v[i] - mean) * inv;
            out[i] = m[i] && Number.isFinite(v[i]) && Math.abs(z) <= sigma ? z : 0;
          }
        },
      };
    },
    torch: {
      setup: [
        `n = ${n}`,
        'values = (torch.rand(n, device=DEVICE) + torch.rand(n, device=DEVICE) + torch.rand(n, device=DEVICE) - 1.5) * 2',
        'mask = torch.rand(n, device=DEVICE) < 0.9',
        'sigma, eps = 3.0, 1e-8',
      ].join('\n'),
      // What a user writes: masked mean / population std in f32, then where(); .item() reads the stats back
      // like the native call does.
      step: [
        'valid = mask & torch.isfinite(values)',
        'cnt = valid.sum().clamp(min=1)',
        'x = torch.where(valid, values, 0.0)',
        'mean = x.sum() / cnt',
        'std = (torch.where(valid, values - mean, 0.0).square().sum() / cnt).sqrt()',
        'z = (values - mean) / (std + eps)',
        'keep = valid & (z.abs() <= sigma)',
        'out = torch.where(keep, z, 0.0)',
        'stats = torch.stack([mean, std, keep.sum().float()]).tolist()',
      ].join('\n'),
      compile: true,
    },
  };
}

// 2^10 and 2^14: calls where fixed per-call costs show (one chunk, no thread-pool work).
export const cases: BenchCase[] = [10, 14, 16, 20, 24].map(makeCase);
