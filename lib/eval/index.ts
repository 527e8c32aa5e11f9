/** Reward-model evaluation: benchmark loaders, R1-Reward's prompt, judges, voting, resumable runs, reports. */
export { R1_REWARD_PROMPT_TEMPLATE, buildPrompt, promptKey } from './prompt';
export { BENCH_NAMES } from './types';
export type { BenchName, MediaRef, JudgePair, JudgeOptions, PairJudge, EvalPair, SyntheticRow } from './types';
export { loadBenchmark, readRows, vlRewardBenchCategory, mmRlhfCategory, multimodalRewardBenchCategory, DataError, MM_RLHF_CATEGORIES } from './loaders';
export type { LoadOptions, LoadedBenchmark, SkippedRow } from './loaders';
export { majorityVote, votingAtK, anyCorrectAtK, accuracyReport } from './metrics';
export type { Evaluation, Order, Accuracy, AccuracyReport } from './metrics';
export { EndpointPairJudge, listEndpointModels } from './endpoint-judge';
export type { EndpointPairJudgeOptions } from './endpoint-judge';
export { registerBuiltinPairJudge, createBuiltinPairJudge } from './builtin';
export type { BuiltinPairJudgeFactory, BuiltinJudgeOptions } from './types';
export { runEval, swapPair, ResumeMismatchError } from './runner';
export type { EvalRunOptions, EvalProgress, EvalResult } from './runner';
export type { EvalSummary } from './summary';
export { readPredictions } from './predictions';
export type { PredictionRecord } from './predictions';
export { renderReport, curveSvg } from './report';
export { mediaUrl, bytesToDataUrl, sniffMime } from './media';
