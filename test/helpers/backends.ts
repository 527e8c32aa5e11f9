/**
 * Runs a kernel test on every backend: always the CPU, CUDA when a GPU is
 * usable. Without one, the CUDA cases are registered as skipped tests whose
 * names say why, so the report shows them.
 */
import { backends } from '../../lib';
import type { Device } from '../../lib';

const cuda = backends().cuda;
export const CUDA_USABLE = cuda.usable;
export const CUDA_SKIP_REASON = cuda.usable ? '' : (cuda.reason ?? 'no usable GPU');

export function describeEachDevice(name: string, body: (device: Device) => void): void {
  describe(`${name} [cpu]`, () => body('cpu'));
  if (CUDA_USABLE) {
    describe(`${name} [cuda]`, () => body('cuda'));
  } else {
    describe(`${name} [cuda]`, () => {
      test.skip(`skipped: ${CUDA_SKIP_REASON}`, () => undefined);
    });
  }
}
