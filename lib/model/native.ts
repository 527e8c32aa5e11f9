/**
 * The model's native binding surface (native/model/model_binding.cpp, native/model/ops/adamw/adamw_binding.cpp,
 * native/model/ops/matmul/matmul_binding.cpp).
 */
import { binding } from '../kernels/binding';
import type { NativeAddon, NativeTensor } from '../native/types';

export interface NativeBatch {
  hasImage: Uint8Array;
  textLen: Int32Array;
  respLen: Int32Array;
  tokens: Int32Array;
  images: Float32Array;
}

export type ModelHandle = { readonly __modelHandle: unique symbol };

export interface NativeParameter {
  name: string;
  shape: number[];
  value: NativeTensor;
  grad: NativeTensor;
  decay: boolean;
}

export interface NativeSample {
  tokens: Int32Array;
  logprobs: Float32Array;
  finish: 'eos' | 'stop' | 'length';
}

/** Each function takes one object of named inputs (the native calling convention, docs/CONTRIBUTING.md). */
export interface ModelBinding {
  /** The ranges the bindings check (adamwStep's: native/model/ops/adamw/adamw.h). */
  limits: NativeAddon['limits'];
  /** config: the resolved ModelConfig; the binding reads its numeric architecture keys and ignores the rest. */
  modelCreate(args: { config: Readonly<Record<string, unknown>>; seed: number; device: 'cpu' | 'cuda'; matmulPrecision: 'tf32' | 'tf32x3' }): ModelHandle;
  modelDispose(args: { model: ModelHandle }): void;
  modelParameters(args: { model: ModelHandle }): NativeParameter[];
  modelSetParameter(args: { model: ModelHandle; index: number; data: Float32Array }): void;
  modelZeroGrad(args: { model: ModelHandle }): void;
  modelLogprobs(args: {
    model: ModelHandle;
    batch: NativeBatch;
    temperature: number;
    entropy: boolean;
    save: boolean;
    async: true;
  }): Promise<{ logprobs: NativeTensor; mask: NativeTensor; entropy?: NativeTensor; T: number }>;
  modelBackward(args: { model: ModelHandle; gradLogprobs: NativeTensor; gradEntropy?: NativeTensor; async: true }): Promise<void>;
  modelLogits(args: { model: ModelHandle; batch: NativeBatch; async: true }): Promise<{ logits: NativeTensor; L: number }>;
  modelGenerate(args: {
    model: ModelHandle;
    batch: NativeBatch;
    n: number;
    maxNewTokens: number;
    temperature: number;
    topP: number;
    seed: number;
    stops: Uint8Array[];
    tokenBytes?: Uint8Array;
    tokenOffsets?: Int32Array;
    useCache: boolean;
    async: true;
  }): Promise<NativeSample[]>;
  adamwStep(args: {
    params: NativeTensor[];
    grads: NativeTensor[];
    m: NativeTensor[];
    v: NativeTensor[];
    weightDecay: Float64Array;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    maxNorm: number;
    step: number;
    async: boolean;
  }): number | Promise<number>;
  /** Internal (op tests, benchmarks): c[0:m, 0:n] = alpha op(a) op(b) + beta c, in place, on the tensors' device. */
  modelMatmul(inputs: {
    a: NativeTensor;
    b: NativeTensor;
    c: NativeTensor;
    transA: boolean;
    transB: boolean;
    alpha: number;
    beta: number;
    precision: 'tf32' | 'tf32x3';
    m: number;
    n: number;
    k: number;
    /** CPU only: one product with this engine / built-in micro-kernel instead of the process-wide choice. */
    engine?: 'builtin' | 'openblas';
    kernel?: 'auto' | 'avx512' | 'avx2' | 'generic';
    async?: boolean;
  }): void | Promise<void>;
}

export const modelBinding = (): ModelBinding => binding<ModelBinding>();
