/** The built-in policy model: config, tokenizer, model, optimizer. */
export { PolicyModel, meanNllGradient } from './policy-model';
export type {
  ModelInput,
  ModelExample,
  LogprobsOptions,
  LogprobsResult,
  GenerateOptions,
  GeneratedSample,
  ModelParameter,
  CreateOptions,
  DeviceOptions,
  MatmulPrecision,
} from './policy-model';
export { AdamW } from './adamw';
export type { AdamWOptions, AdamWState, StepResult } from './adamw';
export { resolveConfig, imageTokens, MODEL_PRESETS } from './config';
export type { ModelConfig, ModelConfigInput } from './config';
export { Tokenizer, ByteTokenizer, trainBpe, BOS, EOS, PAD, IMAGE, VOCAB_SIZE, MAX_VOCAB_SIZE } from './tokenizer';
export type { TokenizerJSON, TrainBpeOptions, Merge } from './tokenizer';
export type { ImageInput } from './image';
