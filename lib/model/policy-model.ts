/**
 * PolicyModel: the built-in vision-language policy (a small Llama-layout
 * decoder with a patch-embedding image prefix), trained and sampled through the
 * native engine in native/model, on the CPU or on a CUDA GPU (device 'cuda':
 * parameters, gradients, activations and the KV cache on the GPU; log-probs,
 * logits and samples come back as host data, so that the loss kernels can mix
 * them with stored "old" log-probs on the CPU).
 *
 * Sequence layout: [image tokens][bos][prompt tokens][response tokens][eos]; an
 * item without an image has no image tokens. Text is tokenized by the model's
 * tokenizer (tokenizer.ts: bytes, plus the BPE merges it was created with). A string response gets the eos
 * appended (the model learns to stop); a token array is used as given (what
 * generate() returns, eos included when sampled), so that
 * model.logprobs({ image, prompt, response: sample.tokens }) reproduces the
 * sample's log-probs.
 *
 * Long work (logprobs, backward, generate, save, load) is async and runs off
 * the event loop; calls on one model are queued and run one at a time.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Device, DeviceChoice, resolveDevice } from '../backends';
import { oneOf, optionalBoolean, optionsObject, topPOption, unshared } from '../internal/validate';
import { Tensor } from '../tensor';
import { ModelConfig, ModelConfigInput, imageTokens, resolveConfig } from './config';
import { ImageInput, loadImage } from './image';
import { ModelHandle, NativeBatch, modelBinding } from './native';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from './safetensors';
import { BOS, EOS, Tokenizer } from './tokenizer';

export interface ModelInput {
  /** PNG/JPEG path or Buffer, or raw RGB pixels (see image.ts); null/undefined: no image. */
  image?: ImageInput | null;
  prompt: string;
}

export interface ModelExample extends ModelInput {
  /** A string (its tokens, then eos) or token ids used as given (e.g. a sample's tokens). */
  response: string | Int32Array | readonly number[];
}

export interface LogprobsOptions {
  /** Logits are divided by it before the softmax. Default 1. Use the sampling temperature to get the "old" log-probs. */
  temperature?: number;
  /** Also return the entropy of each predicted distribution. Default false. */
  entropy?: boolean;
  /** Keep activations for backward(). Default true; false saves memory for log-probs that are never differentiated. */
  grad?: boolean;
}

export interface LogprobsResult {
  /** [B, T]: log-prob of response token t of item b (0 where mask is 0). T = longest response (eos included). */
  logprobs: Tensor;
  /** [B, T] u8: 1 where item b has a response token t. */
  mask: Tensor;
  /** [B, T]: entropy of the distribution that predicted token t (when asked for). */
  entropy?: Tensor;
}

export interface GenerateOptions {
  /** Default 64. The context (maxSeqLen) also ends a sample. */
  maxNewTokens?: number;
  /** Default 1; 0 samples greedily (log-probs then at temperature 1). */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1], default 1 (off). Returned log-probs are of the full tempered softmax. */
  topP?: number;
  /** Samples per input, default 1. */
  n?: number;
  /** Integer seed; same seed, same inputs, same model: same samples. Default: random. */
  seed?: number;
  /** Strings that end a sample: it stops at the first token after which its text contains one (kept in tokens, cut from text). */
  stop?: string | string[];
  /** @internal false recomputes the whole sequence at each step (testing the KV cache). */
  useCache?: boolean;
}

export interface GeneratedSample {
  /** The response text (eos removed; with a stop, the text before the stop string). */
  text: string;
  /** The sampled tokens, eos / stop tokens included: pass them as `response` to logprobs(). */
  tokens: Int32Array;
  /** Log-prob of each sampled token at the sampling temperature. */
  logprobs: Float32Array;
  finishReason: 'eos' | 'stop' | 'length';
}

export interface ModelParameter {
  name: string;
  value: Tensor;
  grad: Tensor | null;
  /** AdamW applies weight decay to it (2-D weights; not norm gains or biases). */
  decay: boolean;
}

/**
 * Matrix products of a CUDA model: 'tf32' (default) rounds their inputs to TF32 on the tensor cores (about 3
 * significant digits per input, f32 accumulation); 'tf32x3' splits each input into two TF32 parts (about f32
 * accuracy, three times the tensor-core work). The CPU always computes in f32.
 */
export type MatmulPrecision = 'tf32' | 'tf32x3';

export interface CreateOptions {
  /** 'cpu' (default), 'cuda' (an Error saying why when no GPU is usable) or 'auto' (CUDA when usable). */
  device?: DeviceChoice;
  /** Parameter initialisation seed, default 0 (the same parameters on every device). */
  seed?: number;
  /** Default: byte level. Its vocabSize is the model's (config.vocabSize, when given, must match). */
  tokenizer?: Tokenizer;
  /** See MatmulPrecision; default 'tf32'. */
  matmulPrecision?: MatmulPrecision;
}

/** Options of PolicyModel.load and model.to(). */
export interface DeviceOptions {
  device?: DeviceChoice;
  matmulPrecision?: MatmulPrecision;
}

function modelDevice(choice: DeviceChoice | undefined): Device {
  return resolveDevice(choice ?? 'cpu', 'options.device');
}

function matmulPrecision(v: unknown): MatmulPrecision {
  return oneOf(v, 'options.matmulPrecision', ['tf32', 'tf32x3'] as const, 'tf32');
}

/**
 * options.temperature (default 1): logits are scaled by 1/T in f32, so 1/T must be a normal f32 number
 * (tokenLogprobs' rule); generation also takes 0 (greedy).
 */
function temperatureOption(value: unknown, zero: boolean): number {
  const t = value ?? 1;
  if (typeof t !== 'number') throw new TypeError(`options.temperature must be a number, got ${typeof t}`);
  if (zero && t === 0) return 0;
  const inv = Math.fround(1 / t);
  if (!(t > 0) || !Number.isFinite(t) || !Number.isFinite(inv) || inv < 1.1754943508222875e-38) {
    throw new RangeError(`options.temperature must be ${zero ? '0 or ' : ''}> 0 with 1/temperature a normal f32 number, got ${t}`);
  }
  return t;
}

/** The `architecture` of config.json that save() writes and load() accepts. */
const ARCHITECTURE = 'stable-reinforce-vlm';

/** Index of the first NaN or infinity in `a`, or -1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** instanceof fails across realms (Jest's sandbox, vm contexts): compare the tag instead. */
function isTypedArray(v: unknown, kind: string): boolean {
  return Object.prototype.toString.call(v) === `[object ${kind}]`;
}

function seedValue(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw new TypeError(`${name} must be a non-negative safe integer, got ${String(v)}`);
  }
  return v;
}

export class PolicyModel {
  readonly config: ModelConfig;
  /** Where parameters, gradients and activations live. */
  readonly device: Device;
  readonly matmulPrecision: MatmulPrecision;
  readonly tokenizer: Tokenizer;
  private handle: ModelHandle | null;
  private params: ModelParameter[];
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private lastShape: [number, number] | null = null;

  private constructor(config: ModelConfig, tokenizer: Tokenizer, seed: number, device: Device = 'cpu', precision: MatmulPrecision = 'tf32') {
    this.config = config;
    this.tokenizer = tokenizer;
    this.device = device;
    this.matmulPrecision = precision;
    this.handle = modelBinding().modelCreate({ config: { ...config }, seed, device, matmulPrecision: precision });
    this.params = modelBinding()
      .modelParameters({ model: this.handle })
      .map((p) => ({
        name: p.name,
        value: new Tensor(p.value, p.shape, 'f32', device),
        grad: new Tensor(p.grad, p.shape, 'f32', device),
        decay: p.decay,
      }));
  }

  /** A new model with freshly initialised parameters (N(0, 0.02); residual outputs scaled by 1/sqrt(2 nLayers)). */
  static create(config: ModelConfigInput, options: CreateOptions = {}): PolicyModel {
    const opts = optionsObject(options);
    const device = modelDevice(opts.device);
    const precision = matmulPrecision(opts.matmulPrecision);
    const seed = opts.seed === undefined ? 0 : seedValue(opts.seed, 'options.seed');
    const tokenizer = opts.tokenizer ?? new Tokenizer();
    // Structural check: instanceof fails across realms and across two copies of the package.
    const t = tokenizer as Partial<Tokenizer>;
    if (typeof t?.encode !== 'function' || typeof t.byteTable !== 'function' || !Number.isInteger(t.vocabSize)) {
      throw new TypeError('options.tokenizer must be a Tokenizer (new Tokenizer(merges) or trainBpe(texts, { merges }))');
    }
    return new PolicyModel(withVocab(config, tokenizer, 'config'), tokenizer, seed, device, precision);
  }

  /**
   * A copy of this model on `device` (always a new model, like Tensor.to): the same config and parameter
   * values; gradients zero, no saved activations. Options default to this model's matmulPrecision.
   */
  to(device: DeviceChoice, options: Omit<DeviceOptions, 'device'> = {}): PolicyModel {
    this.idle('to');
    const target = resolveDevice(device, 'device');
    const precision = matmulPrecision(optionsObject(options).matmulPrecision ?? this.matmulPrecision);
    const copy = new PolicyModel(this.config, this.tokenizer, 0, target, precision);
    try {
      this.params.forEach((p, i) => modelBinding().modelSetParameter({ model: copy.live(), index: i, data: p.value.toArray() as Float32Array }));
    } catch (e) {
      copy.dispose();
      throw e;
    }
    return copy;
  }

  /**
   * Loads a folder written by save(): config.json, tokenizer.json (absent: byte level) and model.safetensors
   * (F32, BF16 or F16 weights, computed in f32).
   */
  static async load(dir: string, options: DeviceOptions = {}): Promise<PolicyModel> {
    const lo = optionsObject(options);
    const device = modelDevice(lo.device);
    const precision = matmulPrecision(lo.matmulPrecision);
    if (typeof dir !== 'string') throw new TypeError('dir must be a string');
    let raw: ModelConfigInput;
    try {
      raw = JSON.parse(await fs.promises.readFile(path.join(dir, 'config.json'), 'utf8'));
    } catch (e) {
      throw new Error(`PolicyModel.load: cannot read ${path.join(dir, 'config.json')}: ${(e as Error).message}`);
    }
    const configFile = path.join(dir, 'config.json');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`PolicyModel.load: ${configFile} must hold a JSON object`);
    const { architecture, ...cfg } = raw as ModelConfigInput & { architecture?: unknown };
    // save() writes the architecture; a folder of another model (or of a future layout) is refused, not misread.
    if (architecture !== undefined && architecture !== ARCHITECTURE) {
      throw new RangeError(
        `PolicyModel.load: ${configFile} is of architecture ${JSON.stringify(architecture)}; this version reads ${JSON.stringify(ARCHITECTURE)}`,
      );
    }
    const tokenizer = await Tokenizer.load(dir);
    const model = new PolicyModel(withVocab(cfg, tokenizer, configFile), tokenizer, 0, device, precision);
    try {
      const tensors = await loadSafetensors(path.join(dir, 'model.safetensors'));
      const b = modelBinding();
      model.params.forEach((p, i) => {
        const t = tensors.get(p.name);
        if (!t) throw new RangeError(`PolicyModel.load: ${dir}/model.safetensors lacks ${p.name}`);
        if (t.shape.length !== p.value.shape.length || t.shape.some((d, j) => d !== p.value.shape[j])) {
          throw new RangeError(`PolicyModel.load: ${p.name} has shape [${t.shape}], the config needs [${p.value.shape}]`);
        }
        // Non-finite weights are an error, not a warning: every output of the model would be NaN.
        const bad = firstNonFinite(t.data);
        if (bad !== -1) {
          throw new RangeError(
            `PolicyModel.load: ${dir}/model.safetensors: ${p.name}[${bad}] is ${t.data[bad]}: the weights must be finite (a diverged or corrupt checkpoint)`,
          );
        }
        b.modelSetParameter({ model: model.live(), index: i, data: t.data });
        tensors.delete(p.name);
      });
      if (tensors.size) throw new RangeError(`PolicyModel.load: unexpected tensors ${[...tensors.keys()].slice(0, 5).join(', ')}`);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /**
   * Writes config.json, tokenizer.json and model.safetensors into dir, each atomically. `dtype: 'bf16'` stores
   * the weights as bfloat16 (rounded to nearest even; half the size, about 3 significant digits): for exporting
   * a trained model, not for checkpoints that training resumes from (those must stay exact f32).
   */
  async save(dir: string, options: { dtype?: 'f32' | 'bf16' } = {}): Promise<void> {
    if (typeof dir !== 'string') throw new TypeError('dir must be a string');
    const dtype = oneOf(optionsObject(options).dtype, 'options.dtype', ['f32', 'bf16'] as const, 'f32');
    this.live();
    await fs.promises.mkdir(dir, { recursive: true });
    const tensors = this.params.map((p) => ({ name: p.name, shape: p.value.shape, data: p.value.toArray() as Float32Array }));
    await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt', producer: 'stable-reinforce' }, { dtype });
    const json = async (name: string, v: unknown) =>
      writeFileAtomic(path.join(dir, name), async (fh) => {
        await fh.write(JSON.stringify(v, null, 2) + '\n');
      });
    await json('tokenizer.json', this.tokenizer.toJSON());
    await json('config.json', { architecture: ARCHITECTURE, ...this.config });
  }

  get numParameters(): number {
    return this.params.reduce((a, p) => a + p.value.size, 0);
  }

  /** The parameters in a fixed order; value and grad share the model's memory (no copy). */
  parameters(): ModelParameter[] {
    this.live();
    return this.params.map((p) => ({ ...p }));
  }

  /**
   * Overwrites one parameter with `data` (row-major, its full size): the hook for
   * loaders of other checkpoints and for tests.
   */
  setParameter(name: string, data: Float32Array): void {
    this.idle('setParameter');
    const i = this.params.findIndex((p) => p.name === name);
    if (i < 0) throw new RangeError(`setParameter: no parameter named ${JSON.stringify(name)}`);
    if (!isTypedArray(data, 'Float32Array')) throw new TypeError(`setParameter(${name}): data must be a Float32Array`);
    modelBinding().modelSetParameter({ model: this.live(), index: i, data: unshared(data) });
  }

  /** Sets every gradient to zero. */
  zeroGrad(): void {
    this.idle('zeroGrad');
    modelBinding().modelZeroGrad({ model: this.live() });
  }

  /** Per-token log-probs of the responses (see LogprobsResult). Saves activations for backward() unless grad: false. */
  logprobs(batch: readonly ModelExample[], options: LogprobsOptions = {}): Promise<LogprobsResult> {
    return this.run(async () => {
      const opts = optionsObject(options);
      const temperature = temperatureOption(opts.temperature, false);
      const entropy = optionalBoolean(opts.entropy, 'options.entropy', false);
      const grad = optionalBoolean(opts.grad, 'options.grad', true);
      const nb = await this.encode(batch, 'batch', true);
      const r = await modelBinding().modelLogprobs({ model: this.live(), batch: nb, temperature, entropy, save: grad, async: true });
      const B = batch.length;
      this.lastShape = grad ? [B, r.T] : this.lastShape;
      return {
        logprobs: new Tensor(r.logprobs, [B, r.T], 'f32', 'cpu'),
        mask: new Tensor(r.mask, [B, r.T], 'u8', 'cpu'),
        ...(r.entropy ? { entropy: new Tensor(r.entropy, [B, r.T], 'f32', 'cpu') } : {}),
      };
    });
  }

  /**
   * Accumulates into the parameters' grads the gradient of sum(gradLogprobs * logprobs) + sum(gradEntropy * entropy)
   * for the last logprobs(batch) (entropy at that call's temperature, whether or not it was returned). Each gradient
   * is [B, T] like that result: an f32 Tensor on any device, or a Float32Array. Masked positions are ignored.
   */
  backward(gradLogprobs: Tensor | Float32Array, gradEntropy?: Tensor | Float32Array | null): Promise<void> {
    return this.run(async () => {
      if (!this.lastShape) throw new Error('backward() needs a forward pass first: call logprobs(batch) (grad not disabled)');
      const [B, T] = this.lastShape;
      const owned: Tensor[] = [];
      const asGrad = (v: unknown, name: string): Tensor => {
        if (v instanceof Tensor) {
          if (v.dtype !== 'f32') throw new TypeError(`${name} must have dtype f32, got ${v.dtype}`);
          if (v.shape.length !== 2 || v.shape[0] !== B || v.shape[1] !== T) {
            throw new RangeError(`${name} must have shape [${B}, ${T}] like the last logprobs result, got [${v.shape.join(', ')}]`);
          }
          v.live(name);
          return v;
        }
        if (isTypedArray(v, 'Float32Array')) {
          const a = v as Float32Array;
          if (a.length !== B * T) throw new RangeError(`${name} has ${a.length} values; the last logprobs result is [${B}, ${T}] = ${B * T}`);
          const t = Tensor.from(a, [B, T]);
          owned.push(t);
          return t;
        }
        throw new TypeError(`${name} must be a Tensor or a Float32Array`);
      };
      try {
        const g = asGrad(gradLogprobs, 'gradLogprobs');
        const gh = gradEntropy === undefined || gradEntropy === null ? undefined : asGrad(gradEntropy, 'gradEntropy');
        await modelBinding().modelBackward({
          model: this.live(),
          gradLogprobs: g.live('gradLogprobs'),
          gradEntropy: gh?.live('gradEntropy'),
          async: true,
        });
      } finally {
        for (const t of owned) t.dispose();
      }
    });
  }

  /** Logits of every position, [B, Lmax, vocabSize] (zeros past an item's end). Mostly for tests and inspection. */
  logits(batch: readonly ModelExample[] | readonly ModelInput[]): Promise<Tensor> {
    return this.run(async () => {
      const nb = await this.encode(batch as ModelExample[], 'batch', true, true);
      const r = await modelBinding().modelLogits({ model: this.live(), batch: nb, async: true });
      return new Tensor(r.logits, [batch.length, r.L, this.config.vocabSize], 'f32', 'cpu');
    });
  }

  /** Samples n responses per input with the KV cache; result[i][j] is sample j of input i. */
  generate(inputs: readonly ModelInput[], options: GenerateOptions = {}): Promise<GeneratedSample[][]> {
    return this.run(async () => {
      const opts = optionsObject(options);
      const maxNewTokens = opts.maxNewTokens ?? 64;
      if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new RangeError(`options.maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
      const temperature = temperatureOption(opts.temperature, true);
      const topP = topPOption(opts.topP, 'options.topP');
      const n = opts.n ?? 1;
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`options.n must be an integer >= 1, got ${n}`);
      const seed = opts.seed === undefined ? Math.floor(Math.random() * 2 ** 52) : seedValue(opts.seed, 'options.seed');
      const stopList = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : opts.stop;
      if (!Array.isArray(stopList) || stopList.some((s) => typeof s !== 'string' || s.length === 0)) {
        throw new TypeError('options.stop must be a non-empty string or an array of them');
      }
      const useCache = optionalBoolean(opts.useCache, 'options.useCache', true);
      if (!Array.isArray(inputs)) throw new TypeError('inputs must be an array of { image, prompt }');
      const examples = inputs.map((x) => ({ ...x, response: [] as number[] }));
      const nb = await this.encode(examples, 'inputs', false);
      const stops = stopList.map((s) => Uint8Array.from(Buffer.from(s, 'utf8')));
      const table = stops.length ? this.tokenizer.byteTable() : undefined;
      const raw = await modelBinding().modelGenerate({
        model: this.live(),
        batch: nb,
        n,
        maxNewTokens,
        temperature,
        topP,
        seed,
        stops,
        tokenBytes: table?.data,
        tokenOffsets: table?.offsets,
        useCache,
        async: true,
      });
      const out: GeneratedSample[][] = [];
      for (let i = 0; i < inputs.length; i++) {
        const row: GeneratedSample[] = [];
        for (let j = 0; j < n; j++) {
          const s = raw[i * n + j];
          const text = s.finish === 'stop' ? cutAtStop(this.tokenizer.bytes(s.tokens), stops) : this.tokenizer.decode(s.tokens);
          row.push({ text, tokens: s.tokens, logprobs: s.logprobs, finishReason: s.finish });
        }
        out.push(row);
      }
      return out;
    });
  }

  /** Frees the model (parameters, gradients, activations). Tensors from parameters() are disposed too. */
  dispose(): void {
    if (!this.handle) return;
    if (this.pending) throw new Error('PolicyModel.dispose: a call is still running; await it first');
    for (const p of this.params) {
      p.value.dispose();
      p.grad?.dispose();
    }
    modelBinding().modelDispose({ model: this.handle });
    this.handle = null;
  }

  /** `using model = ...`: dispose() at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.handle === null;
  }

  /** @internal throws unless no call is running (AdamW uses it). */
  idle(what: string): void {
    this.live();
    if (this.pending) throw new Error(`${what}: the model has a call running; await logprobs/backward/generate first`);
  }

  private live(): ModelHandle {
    if (!this.handle) throw new TypeError('the PolicyModel was disposed');
    return this.handle;
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const p = this.queue.then(fn);
    this.queue = p.then(
      () => (this.pending--, undefined),
      () => (this.pending--, undefined),
    );
    return p;
  }

  /** Validates and packs a batch into the native layout. */
  private async encode(batch: readonly ModelExample[], what: string, withResponse: boolean, responseOptional = false): Promise<NativeBatch> {
    this.live();
    if (!Array.isArray(batch)) throw new TypeError(`${what} must be an array`);
    if (batch.length === 0) throw new RangeError(`${what} is empty`);
    const c = this.config;
    const nImg = imageTokens(c);
    const hasImage = new Uint8Array(batch.length);
    const textLen = new Int32Array(batch.length);
    const respLen = new Int32Array(batch.length);
    const parts: Int32Array[] = [];
    const images: Float32Array[] = [];
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i];
      const w = `${what}[${i}]`;
      if (item === null || typeof item !== 'object') throw new TypeError(`${w} must be an object`);
      if (typeof item.prompt !== 'string') throw new TypeError(`${w}.prompt must be a string`);
      const prompt = this.tokenizer.encode(item.prompt);
      let resp: Int32Array;
      if (!withResponse || (responseOptional && item.response === undefined)) resp = new Int32Array(0);
      else if (typeof item.response === 'string') {
        const ids = this.tokenizer.encode(item.response);
        resp = new Int32Array(ids.length + 1);
        resp.set(ids);
        resp[ids.length] = EOS;
      } else if (isTypedArray(item.response, 'Int32Array') || Array.isArray(item.response)) {
        const ids = item.response as ArrayLike<unknown>;
        resp = new Int32Array(ids.length);
        for (let j = 0; j < ids.length; j++) {
          const t = ids[j];
          if (typeof t !== 'number') throw new TypeError(`${w}.response[${j}] must be a token id (a number), got ${t === null ? 'null' : typeof t}`);
          if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new RangeError(`${w}.response[${j}] = ${t} is not a token id in [0, ${c.vocabSize})`);
          resp[j] = t;
        }
      } else {
        throw new TypeError(`${w}.response must be a string or an array of token ids`);
      }
      const img = item.image !== undefined && item.image !== null;
      const len = (img ? nImg : 0) + 1 + prompt.length + resp.length;
      const limit = withResponse ? c.maxSeqLen : c.maxSeqLen - 1; // generation needs room for one token
      if (len > limit) {
        throw new RangeError(
          `${w}: ${img ? `${nImg} image tokens + ` : ''}bos + ${prompt.length} prompt tokens${withResponse ? ` + ${resp.length} response tokens` : ''} = ${len} tokens, ` +
            `longer than the context (maxSeqLen ${c.maxSeqLen}${withResponse ? '' : ', with room for one new token'})`,
        );
      }
      if (img) {
        images.push(await loadImage(item.image as ImageInput, c.imageSize, `${w}.image`, { mean: c.imageMean, std: c.imageStd }));
        hasImage[i] = 1;
      }
      const text = new Int32Array(1 + prompt.length + resp.length);
      text[0] = BOS;
      text.set(prompt, 1);
      text.set(resp, 1 + prompt.length);
      parts.push(text);
      textLen[i] = text.length;
      respLen[i] = resp.length;
    }
    const tokens = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) tokens.set(p, (o += p.length) - p.length);
    const px = new Float32Array(images.length * c.imageSize * c.imageSize * 3);
    images.forEach((im, k) => px.set(im, k * im.length));
    return { hasImage, textLen, respLen, tokens, images: px };
  }
}

/** The config with vocabSize filled in from the tokenizer (an error when they disagree). */
function withVocab(config: ModelConfigInput, tokenizer: Tokenizer, where: string): ModelConfig {
  const c = resolveConfig({ ...config, vocabSize: config?.vocabSize ?? tokenizer.vocabSize });
  if (c.vocabSize !== tokenizer.vocabSize) {
    throw new RangeError(`${where}: vocabSize ${c.vocabSize} does not match the tokenizer's ${tokenizer.vocabSize} tokens (${tokenizer.merges.length} merges)`);
  }
  return c;
}

/** The text of a stopped sample's bytes, up to the first occurrence of a stop string. */
function cutAtStop(bytes: Uint8Array, stops: readonly Uint8Array[]): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let end = bytes.length;
  for (const st of stops) {
    const at = buf.indexOf(st);
    if (at >= 0 && at < end) end = at;
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, end));
}

/**
 * The supervised loss: mean negative log-likelihood over the response tokens,
 * and its gradient with respect to the log-probs (-mask / count), ready for backward().
 */
export function meanNllGradient(result: LogprobsResult): { loss: number; grad: Float32Array; tokens: number } {
  const lp = result.logprobs.toArray() as Float32Array;
  const mask = result.mask.toArray();
  let count = 0;
  let sum = 0;
  for (let i = 0; i < lp.length; i++) {
    if (!mask[i]) continue;
    count++;
    sum -= lp[i];
  }
  const grad = new Float32Array(lp.length);
  if (count) for (let i = 0; i < lp.length; i++) grad[i] = mask[i] ? -1 / count : 0;
  return { loss: count ? sum / count : 0, grad, tokens: count };
}
