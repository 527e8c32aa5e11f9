/** The StableReinforce kernels. Each runs on the device of its inputs (CPU or CUDA). */
export { preClipRatio, preClipRatioAsync } from './preclip-ratio';
export type { PreClipOptions } from './preclip-ratio';
