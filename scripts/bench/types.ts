/**
 * A benchmark case: one kernel at one size on one device, with the baselines
 * it is compared with in the same run. The harness (scripts/bench-kernels.ts)
 * times each with warm-up and reports medians, GB/s, the fraction of the
 * memory floor, and ratios against plain TypeScript and PyTorch.
 */
import type { Device } from '../../lib';

export interface Runnable {
  /** One timed call. For CUDA it must include the synchronisation that makes the result usable. */
  run(): void;
  dispose?(): void;
}

export interface BenchCase {
  /** Kernel name as in `kernels.*`, e.g. 'policyLoss'. */
  kernel: string;
  /** Size label, e.g. 'N=2^20' or 'N=8192 V=151936 bf16'. */
  label: string;
  /** Devices this case makes sense on. */
  devices: Device[];
  /** Bytes the kernel must read + write at least (its memory floor = bytes / measured copy bandwidth). */
  bytes: number;
  /** Builds inputs on `device` and returns the native call to time. */
  native(device: Device): Runnable;
  /** A plain TypeScript implementation of the same computation (CPU), or undefined where it makes no sense. */
  plainTs?(): Runnable;
  /**
   * PyTorch baseline, run by the harness in one python3 process: `setup` is Python that defines inputs on
   * `device` (a string variable 'cpu' or 'cuda' is in scope as DEVICE, torch is imported); `step` is Python code
   * for one call (forward + backward where the kernel computes a gradient). `compile` marks steps worth a
   * torch.compile variant on GPU (the harness wraps `step` in a function for that).
   */
  torch?: { setup: string; step: string; compile?: boolean };
  /** Repeats for the timing (default chosen from a first call). */
  repeats?: number;
}
