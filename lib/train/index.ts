/** Two-stage R1-Reward training (SFT cold start, difficulty, StableReinforce), its configuration and checkpoints. */
export { train, TrainingInterrupted } from './trainer';
export type { TrainOptions, TrainResult, RunSummary, EvalRecord } from './trainer';
export { resolveTrainConfig, PRESETS, PRESET_NAMES, ALGOS, algoDefaults, effectiveRl, modelConfigOf } from './config';
export type { TrainConfig, TrainConfigOverrides, Algo, RlConfig, SftConfig, EvalConfig, DataConfig } from './config';
export { rlStep, computeAdvantages } from './rl';
export type { RlSettings, RlContext, RlStepMetrics } from './rl';
export { sftStep, guardedUpdate, cosineLr } from './update';
export { findLatestCheckpoint, saveCheckpoint } from './checkpoint';
export { readMetrics } from './metrics';
export type { StepLine } from './metrics';
export { pairedChange, signTestP } from './summary';
export * from './curriculum';
