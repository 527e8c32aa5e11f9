/** stable-reinforce: R1-Reward-style multimodal reward models trained with StableReinforce. */
export { backends, resolveDevice, cudaAvailable, synchronize, setCpuGemm } from './backends';
export type { Device, DeviceChoice, BackendReport, CpuGemmEngine, CpuGemmKernel, CpuGemmReport } from './backends';
export { Tensor, DTYPES } from './tensor';
export type { DType, TensorData, TensorLike, TensorOptions } from './tensor';
import * as kernels from './kernels';
export { kernels };
export { PolicyModel, AdamW, meanNllGradient, Tokenizer, ByteTokenizer, trainBpe, MODEL_PRESETS, resolveConfig as resolveModelConfig } from './model';
export type {
  ModelConfig,
  ModelConfigInput,
  ModelInput,
  ModelExample,
  LogprobsOptions,
  LogprobsResult,
  GenerateOptions,
  GeneratedSample,
  ModelParameter,
  AdamWOptions,
  StepResult,
  ImageInput,
} from './model';
// Rewards, evaluation and the reward service (issue 5). Namespaces hold everything; the main entry points are also flat.
export * as rewards from './rewards';
export * as evaluation from './eval';
export * as rewardService from './serve';
export { formatReward, parseVerdict, resultReward, normalizeLabel, combineReward, computeReward, computeRewards, createRewardStats } from './rewards';
export { RuleBasedJudge, OpenAIConsistencyJudge } from './rewards';
export type { Verdict, ParsedVerdict, RewardParts, RewardWeights, RewardStats, RewardBreakdown, Consistency, ConsistencyJudge } from './rewards';
export { runEval, loadBenchmark, EndpointPairJudge, registerBuiltinPairJudge, buildPrompt as buildR1RewardPrompt, R1_REWARD_PROMPT_TEMPLATE } from './eval';
export type { PairJudge, JudgePair, JudgeOptions, EvalRunOptions, EvalSummary, BenchName, SyntheticRow } from './eval';
export { createRewardServer, getRewards, scorePair } from './serve';
export type { RewardServer, RewardServerOptions } from './serve';
import * as data from './data';
export { data };
import * as training from './train';
export { training };
