/** Two-stage R1-Reward training (SFT cold start, difficulty, StableReinforce), its configuration and checkpoints. */
export { train } from './trainer';
export type { TrainOptions, TrainResult } from './trainer';
export { forkRun } from './fork';
export type { RunSummary, EvalRecord } from './types';
export type { ProgressEvent } from './run';
export { resolveTrainConfig, PRESETS, PRESET_NAMES } from './presets';
export { SETTINGS, DEFAULTS, settingRows, ALGOS, BASELINES, algoDefaults, effectiveRl, modelConfigOf } from './config';
export type { TrainConfig, TrainConfigOverrides, Algo, Baseline, EffectiveRl, RlConfig, SftConfig, EvalConfig, DataConfig } from './config';
export { rlStep, computeAdvantages, policyUpdate, accumulatePolicyGradient, rlLearningRate } from './rl';
export type { RlContext, RlStepMetrics, AdvantageInput, Advantages, RolloutBatch, PolicyLossOptions, AccumulatedLoss } from './rl';
export { sftStep, guardedUpdate, guardedStep, cosineLr } from './update';
export { findLatestCheckpoint, saveCheckpoint } from './checkpoint';
export { readMetrics } from './metrics';
export type { StepLine } from './metrics';
export { pairedChange, signTestP } from './summary';
export * from './curriculum';
