/** stable-reinforce: R1-Reward-style multimodal reward models trained with StableReinforce. */
export { backends, resolveDevice, cudaAvailable, synchronize } from './backends';
export type { Device, DeviceChoice, BackendReport } from './backends';
export { Tensor, DTYPES } from './tensor';
export type { DType, TensorData, TensorLike, TensorOptions } from './tensor';
import * as kernels from './kernels';
export { kernels };
