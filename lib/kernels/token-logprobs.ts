/**
 * Token log-probabilities and entropy from logits, and their gradient.
 *   x = logits / temperature
 *   logprobs[i] = x[i, tokens[i]] - logsumexp(x[i])
 *   entropy[i]  = logsumexp(x[i]) - sum_j softmax(x[i])_j * x[i, j]
 * One pass per row with an online log-sum-exp in f32 (N x V is never written);
 * bf16 logits are read as bf16. Native: native/kernels/token_logprobs (the header
 * states the edge behaviour in full).
 *
 * Edge behaviour: a -inf logit (masked vocabulary) contributes 0; a target whose
 * logit is -inf has logprob -inf. A row with a NaN or +inf logit, or with every
 * logit -inf, has no log-softmax: by default that throws a RangeError naming the
 * first such row; with `nonFinite: 'nan'` its outputs are NaN instead and the
 * result's `nonFiniteRows` counts them. A token outside [0, V) is always a
 * RangeError naming `tokens`, the row and the value.
 *
 * On CUDA each call reads 24 bytes back from the GPU (the token check and the
 * non-finite count), so it synchronises with the device once.
 */
import { oneOf, optionsObject } from '../internal/validate';
import type { NativeTensor } from '../native/types';
import { Tensor, TensorLike, asTensor } from '../tensor';
import { MaybeAsync, binding, mapResult, settle, withTemporaries, wrapHandle } from './binding';

interface NativeStatus {
  nonFiniteRows: number;
  firstNonFiniteRow: number;
}

interface TokenLogprobsBinding {
  tokenLogprobs(args: {
    logits: NativeTensor;
    tokens: NativeTensor;
    temperature: number;
    entropy: boolean;
    async: boolean;
  }): MaybeAsync<NativeStatus & { logprobs: NativeTensor; entropy?: NativeTensor }>;
  tokenLogprobsBackward(args: {
    logits: NativeTensor;
    tokens: NativeTensor;
    gradLogprobs: NativeTensor;
    gradEntropy?: NativeTensor;
    temperature: number;
    async: boolean;
  }): MaybeAsync<NativeStatus & { grad: NativeTensor }>;
}

/** What to do with rows that have no finite log-softmax (NaN or +inf logits, or all -inf). */
export type NonFinitePolicy = 'throw' | 'nan';

export interface TokenLogprobsOptions {
  /** Sampling temperature T, in [1e-30, 1e30]: the logits are divided by it. Default 1. */
  temperature?: number;
  /** Also compute the entropy of each row's distribution. Default false. */
  entropy?: boolean;
  /** Default 'throw' (RangeError naming the first bad row); 'nan' keeps NaN outputs in those rows. */
  nonFinite?: NonFinitePolicy;
}

export interface TokenLogprobsResult {
  /** [N] f32 log-probability of each row's token. */
  logprobs: Tensor;
  /** [N] f32 entropy (nats) of each row, when `entropy: true`. */
  entropy?: Tensor;
  /** Rows whose outputs are NaN (0 unless `nonFinite: 'nan'`). */
  nonFiniteRows: number;
}

export interface TokenLogprobsBackwardOptions {
  /** The temperature used in the forward call. Default 1. */
  temperature?: number;
  /** [N] f32 gradient of the loss w.r.t. the entropy; omitted means 0. */
  gradEntropy?: TensorLike;
  /** Default 'throw'; 'nan' gives NaN gradient rows (non-finite logits, or non-finite upstream gradients). */
  nonFinite?: NonFinitePolicy;
}

const POLICIES: readonly NonFinitePolicy[] = ['throw', 'nan'];

function nonFiniteError(status: NativeStatus, what: string): RangeError {
  return new RangeError(
    `${status.nonFiniteRows} row(s) ${what}; the first is row ${status.firstNonFiniteRow}. ` +
      "Pass options.nonFinite = 'nan' to get NaN for those rows instead.",
  );
}

/** The inputs forward and backward share: logits [N, V] (a Tensor: a plain array has no shape) and tokens [N]. */
function logitsAndTokens(logits: Tensor, tokens: TensorLike, owned: Tensor[]): { lg: Tensor; tk: Tensor; n: number } {
  if (!(logits instanceof Tensor)) throw new TypeError('logits must be a Tensor of shape [N, V]');
  const lg = asTensor(logits, 'logits', 'f32', owned);
  return { lg, tk: asTensor(tokens, 'tokens', 'i32', owned), n: lg.shape[0] };
}

function forward<A extends boolean>(
  logits: Tensor,
  tokens: TensorLike,
  options: TokenLogprobsOptions | undefined,
  async: A,
): A extends true ? Promise<TokenLogprobsResult> : TokenLogprobsResult {
  const opts = optionsObject(options);
  const policy = oneOf(opts.nonFinite, 'options.nonFinite', POLICIES, 'throw');
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const { lg, tk, n } = logitsAndTokens(logits, tokens, owned);
    const device = lg.device;
    const out = binding<TokenLogprobsBinding>().tokenLogprobs({
      logits: lg.handle,
      tokens: tk.handle,
      temperature: opts.temperature ?? 1,
      entropy: opts.entropy ?? false,
      async,
    });
    const wrap = (r: NativeStatus & { logprobs: NativeTensor; entropy?: NativeTensor }): TokenLogprobsResult => {
      const result: TokenLogprobsResult = {
        logprobs: wrapHandle(r.logprobs, [n], 'f32', device),
        nonFiniteRows: r.nonFiniteRows,
      };
      if (r.entropy) result.entropy = wrapHandle(r.entropy, [n], 'f32', device);
      if (r.nonFiniteRows > 0 && policy === 'throw') {
        result.logprobs.dispose();
        result.entropy?.dispose();
        throw nonFiniteError(r, 'of logits have no finite log-softmax (a NaN or +inf logit, or every logit -inf)');
      }
      return result;
    };
    return mapResult(out, async, wrap);
  });
}

function backward<A extends boolean>(
  logits: Tensor,
  tokens: TensorLike,
  gradLogprobs: TensorLike,
  options: TokenLogprobsBackwardOptions | undefined,
  async: A,
): A extends true ? Promise<Tensor> : Tensor {
  const opts = optionsObject(options);
  const policy = oneOf(opts.nonFinite, 'options.nonFinite', POLICIES, 'throw');
  const owned: Tensor[] = [];
  return withTemporaries(owned, () => {
    const { lg, tk } = logitsAndTokens(logits, tokens, owned);
    const glp = asTensor(gradLogprobs, 'gradLogprobs', 'f32', owned);
    const gh = opts.gradEntropy === undefined ? undefined : asTensor(opts.gradEntropy, 'options.gradEntropy', 'f32', owned);
    const device = lg.device;
    const out = binding<TokenLogprobsBinding>().tokenLogprobsBackward({
      logits: lg.handle,
      tokens: tk.handle,
      gradLogprobs: glp.handle,
      gradEntropy: gh?.handle,
      temperature: opts.temperature ?? 1,
      async,
    });
    const wrap = (r: NativeStatus & { grad: NativeTensor }): Tensor => {
      const grad = wrapHandle(r.grad, lg.shape, lg.dtype, device);
      if (r.nonFiniteRows > 0 && policy === 'throw') {
        grad.dispose();
        throw nonFiniteError(r, 'have a NaN gradient (logits with a NaN or +inf logit or every logit -inf, or a non-finite gradLogprobs/gradEntropy)');
      }
      return grad;
    };
    return mapResult(out, async, wrap);
  });
}

/** Log-probability (and optionally entropy) of each row's token; outputs on the logits' device. */
export function tokenLogprobs(logits: Tensor, tokens: TensorLike, options?: TokenLogprobsOptions): TokenLogprobsResult {
  return forward(logits, tokens, options, false);
}

/** tokenLogprobs off the JavaScript thread. */
export function tokenLogprobsAsync(logits: Tensor, tokens: TensorLike, options?: TokenLogprobsOptions): Promise<TokenLogprobsResult> {
  return settle(() => forward(logits, tokens, options, true));
}

/**
 * Gradient w.r.t. the logits of sum_i gradLogprobs[i] * logprobs[i] + gradEntropy[i] * entropy[i]:
 *   (gLp * (1[j = token] - p_j) - gH * p_j * (log p_j + H)) / temperature,
 * a new [N, V] tensor with the logits' dtype (f32, or bf16 rounded to nearest even).
 * The softmax is recomputed from the logits (two passes per row).
 */
export function tokenLogprobsBackward(logits: Tensor, tokens: TensorLike, gradLogprobs: TensorLike, options?: TokenLogprobsBackwardOptions): Tensor {
  return backward(logits, tokens, gradLogprobs, options, false);
}

/** tokenLogprobsBackward off the JavaScript thread. */
export function tokenLogprobsBackwardAsync(
  logits: Tensor,
  tokens: TensorLike,
  gradLogprobs: TensorLike,
  options?: TokenLogprobsBackwardOptions,
): Promise<Tensor> {
  return settle(() => backward(logits, tokens, gradLogprobs, options, true));
}
