/** Rule-based rewards of StableReinforce, shared by the trainer, the evaluator and the reward service. */
export { formatReward } from './format';
export { parseVerdict, parseAnswerContent, extractAnalysis, countOccurrences } from './verdict';
export type { Verdict, VerdictFailure, ParsedVerdict, ParseVerdictOptions } from './verdict';
export { resultReward, normalizeLabel } from './result';
export { combineReward, computeReward, computeRewards, createRewardStats, DEFAULT_REWARD_WEIGHTS } from './combine';
export type { RewardParts, RewardWeights, RewardStats, RewardBreakdown, ComputeRewardOptions } from './combine';
export { RuleBasedJudge, ruleConsistency, conclusionPreference, lastLines } from './judge';
export type { Consistency, ConsistencyInput, ConsistencyJudge } from './judge';
export { OpenAIConsistencyJudge, consistencyJudgePrompt, parseJudgeReply } from './openai-judge';
export type { OpenAIJudgeOptions, OpenAIJudgeStats } from './openai-judge';
export { Limiter, LruCache, withRetries, sleep } from './async';
export type { RetryOptions, RetryDecision } from './async';
export { normalizeBaseURL, classifyEndpointError, EndpointError } from './openai-compat';
export type { EndpointOptions, EndpointStats } from './openai-compat';
