/** The reward service: OpenRLHF's remote reward protocol, pair scoring, health; usable with or without HTTP. */
export { createRewardServer } from './server';
export type { RewardServer, RewardServerOptions, ServiceStats } from './server';
export { getRewards, scorePair, extractResponse, RequestError, END_TOKENS } from './protocol';
export type { RewardContext, GetRewardResponse, RewardDetail, ScoreRequest, ScoreResponse, ScoreContext } from './protocol';
export { LabelIndex } from './labels';
