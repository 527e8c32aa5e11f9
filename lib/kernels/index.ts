/** The StableReinforce kernels. Each runs on the device of its inputs (CPU or CUDA). */
export { preClipRatio, preClipRatioAsync } from './preclip-ratio';
export type { PreClipOptions } from './preclip-ratio';
export { advantageFilter, advantageFilterAsync } from './advantage-filter';
export type { AdvantageFilterOptions, AdvantageFilterResult, AdvantageFilterRule } from './advantage-filter';
export { reinforceReturns, reinforceReturnsAsync } from './reinforce-returns';
export type { ReinforceReturnsInputs, KlEstimator } from './reinforce-returns';
export { groupAdvantages, groupAdvantagesAsync } from './group-advantages';
export type { GroupAdvantagesOptions } from './group-advantages';
export { tokenLogprobs, tokenLogprobsAsync, tokenLogprobsBackward, tokenLogprobsBackwardAsync } from './token-logprobs';
export type { NonFinitePolicy, TokenLogprobsOptions, TokenLogprobsResult, TokenLogprobsBackwardOptions } from './token-logprobs';
export { policyLoss, policyLossAsync } from './policy-loss';
export type { PolicyLossInputs, PolicyLossResult, PolicyLossStats, PolicyLossAggregation, PolicyLossKlEstimator } from './policy-loss';
