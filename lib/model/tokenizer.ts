/**
 * The built-in model's tokenizer: byte-level BPE. Token ids 0..255 are the
 * bytes of the UTF-8 text; four special tokens follow: bos 256 (start of the
 * text), eos 257 (end of a response), pad 258 (reserved, never fed to the
 * model: batches are packed, not padded), image 259 (marks the image-token
 * positions). Ids from 260 on are merges, each the concatenation of two earlier
 * tokens, learnt from a corpus by trainBpe. With no merges it is plain byte
 * level (ByteTokenizer). Every string round-trips; decoding skips special
 * tokens and replaces invalid UTF-8 (a sample cut mid-character) with U+FFFD.
 *
 * Why merges: the model is small and learns from scratch; one token per word
 * makes sequences ~4x shorter on the synthetic data (a training step is that
 * much cheaper) and lets one attention lookup match a word ("top-left") where
 * bytes need several.
 */
import { shown } from '../internal/validate';
import * as fs from 'fs';
import * as path from 'path';

export const BOS = 256;
export const EOS = 257;
export const PAD = 258;
export const IMAGE = 259;
/** Vocabulary of the byte-level tokenizer: 256 bytes + 4 specials. Merges are numbered from here. */
export const VOCAB_SIZE = 260;
/** Largest vocabulary a tokenizer may have (bytes + specials + merges). */
export const MAX_VOCAB_SIZE = 65536;

/**
 * Merges never cross these chunks: a word with its leading space, a number, a
 * run of punctuation, a run of white space. Splitting at code-point boundaries
 * keeps the bytes of the chunks equal to the bytes of the text.
 */
const CHUNK = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu;

function chunks(text: string): string[] {
  return text.match(CHUNK) ?? [];
}

export type Merge = readonly [number, number];

export interface TokenizerJSON {
  type: 'byte-level' | 'byte-level-bpe';
  vocabSize: number;
  bytes: string;
  specialTokens: { bos: number; eos: number; pad: number; image: number };
  layout: string;
  /** Merge i makes token 260 + i from the pair [left, right]. */
  merges?: Merge[];
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly bos = BOS;
  readonly eos = EOS;
  readonly pad = PAD;
  readonly image = IMAGE;
  readonly merges: readonly Merge[];
  /** The bytes of every token id (empty for the special tokens). */
  private readonly bytesOf: Uint8Array[];
  /** Merge rank by pair key (left * MAX_VOCAB_SIZE + right). */
  private readonly rank = new Map<number, number>();
  private readonly cache = new Map<string, Int32Array>();

  constructor(merges: readonly Merge[] = []) {
    if (!Array.isArray(merges)) throw new TypeError('merges must be an array of [left, right] token id pairs');
    if (VOCAB_SIZE + merges.length > MAX_VOCAB_SIZE) throw new RangeError(`at most ${MAX_VOCAB_SIZE - VOCAB_SIZE} merges, got ${merges.length}`);
    this.bytesOf = [];
    for (let b = 0; b < 256; b++) this.bytesOf.push(Uint8Array.of(b));
    for (let s = 256; s < VOCAB_SIZE; s++) this.bytesOf.push(new Uint8Array(0));
    merges.forEach((m, i) => {
      const id = VOCAB_SIZE + i;
      const ok = (t: unknown): t is number =>
        Number.isInteger(t) && (t as number) >= 0 && (t as number) < id && ((t as number) < 256 || (t as number) >= VOCAB_SIZE);
      if (!Array.isArray(m) || m.length !== 2 || !ok(m[0]) || !ok(m[1])) {
        throw new RangeError(`merges[${i}] must be a pair of byte or earlier merge ids (< ${id}, not a special token), got ${JSON.stringify(m)}`);
      }
      const key = m[0] * MAX_VOCAB_SIZE + m[1];
      if (this.rank.has(key)) throw new RangeError(`merges[${i}] repeats merges[${this.rank.get(key)}] ${JSON.stringify(m)}`);
      this.rank.set(key, i);
      const a = this.bytesOf[m[0]];
      const b = this.bytesOf[m[1]];
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      this.bytesOf.push(joined);
    });
    this.merges = merges.map((m) => [m[0], m[1]] as const);
    this.vocabSize = VOCAB_SIZE + merges.length;
  }

  /** The token ids of `text` (no special tokens). */
  encode(text: string): Int32Array {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
    if (this.merges.length === 0) return Int32Array.from(Buffer.from(text, 'utf8'));
    const parts = chunks(text).map((c) => this.encodeChunk(c));
    const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) out.set(p, (o += p.length) - p.length);
    return out;
  }

  /** Text of the tokens; special tokens are skipped. */
  decode(tokens: ArrayLike<number>): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes(tokens));
  }

  /** The UTF-8 bytes of the tokens; special and unknown ids contribute nothing. */
  bytes(tokens: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < tokens.length; i++) n += this.bytesOf[tokens[i]]?.length ?? 0;
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < tokens.length; i++) {
      const b = this.bytesOf[tokens[i]];
      if (!b) continue;
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  /** The bytes of every token id, concatenated, and where each starts (offsets has vocabSize + 1 entries). */
  byteTable(): { data: Uint8Array; offsets: Int32Array } {
    const offsets = new Int32Array(this.vocabSize + 1);
    for (let t = 0; t < this.vocabSize; t++) offsets[t + 1] = offsets[t] + this.bytesOf[t].length;
    const data = new Uint8Array(offsets[this.vocabSize]);
    for (let t = 0; t < this.vocabSize; t++) data.set(this.bytesOf[t], offsets[t]);
    return { data, offsets };
  }

  /** The description written to tokenizer.json (fromJSON reads it back). */
  toJSON(): TokenizerJSON {
    return {
      type: this.merges.length ? 'byte-level-bpe' : 'byte-level',
      vocabSize: this.vocabSize,
      bytes: '0-255: UTF-8 bytes',
      specialTokens: { bos: BOS, eos: EOS, pad: PAD, image: IMAGE },
      layout: '[image tokens][bos][prompt tokens][response tokens][eos]',
      ...(this.merges.length ? { merges: this.merges.map((m) => [m[0], m[1]] as Merge) } : {}),
    };
  }

  static fromJSON(json: unknown, where = 'tokenizer'): Tokenizer {
    if (json === null || typeof json !== 'object') throw new TypeError(`${where} must be an object`);
    const j = json as Partial<TokenizerJSON>;
    if (j.type !== 'byte-level' && j.type !== 'byte-level-bpe') {
      throw new RangeError(`${where}.type must be "byte-level" or "byte-level-bpe", got ${JSON.stringify(j.type)}`);
    }
    const sp = j.specialTokens;
    if (sp && (sp.bos !== BOS || sp.eos !== EOS || sp.pad !== PAD || sp.image !== IMAGE)) {
      throw new RangeError(`${where}.specialTokens must be bos ${BOS}, eos ${EOS}, pad ${PAD}, image ${IMAGE}`);
    }
    const tok = new Tokenizer(j.merges ?? []);
    if (j.vocabSize !== undefined && j.vocabSize !== tok.vocabSize) {
      throw new RangeError(`${where}.vocabSize is ${j.vocabSize} but its merges make ${tok.vocabSize} tokens`);
    }
    return tok;
  }

  /** The tokenizer saved in a model folder (DIR/tokenizer.json); byte level when the folder has none. */
  static async load(dir: string): Promise<Tokenizer> {
    const file = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(file)) return new Tokenizer();
    let json: unknown;
    try {
      json = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as Error).message}`);
    }
    return Tokenizer.fromJSON(json, file);
  }

  private encodeChunk(chunk: string): Int32Array {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let ids = Array.from(Buffer.from(chunk, 'utf8'));
    // Apply the lowest-ranked merge present until none applies (the order in which they were learnt).
    for (;;) {
      let best = -1;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.rank.get(ids[i] * MAX_VOCAB_SIZE + ids[i + 1]);
        if (r === undefined || (best >= 0 && r >= best)) continue;
        best = r;
        at = i;
      }
      if (best < 0) break;
      const id = VOCAB_SIZE + best;
      const [l, r] = this.merges[best];
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i >= at && i + 1 < ids.length && ids[i] === l && ids[i + 1] === r) {
          next.push(id);
          i++;
        } else next.push(ids[i]);
      }
      ids = next;
    }
    const out = Int32Array.from(ids);
    if (this.cache.size < 100_000) this.cache.set(chunk, out);
    return out;
  }
}

/** The plain byte-level tokenizer (no merges). */
export class ByteTokenizer extends Tokenizer {
  constructor() {
    super([]);
  }
}

export interface TrainBpeOptions {
  /** Most merges to learn (the vocabulary grows by this many tokens). */
  merges: number;
  /** A pair must occur at least this often to be merged (default 2). */
  minCount?: number;
}

/**
 * Learns byte-pair merges from `texts`: repeatedly joins the most frequent
 * adjacent pair within a chunk (ties: the smaller pair of ids, so the result
 * depends only on the texts). Stops early when no pair occurs minCount times.
 */
export function trainBpe(texts: Iterable<string>, options: TrainBpeOptions): Tokenizer {
  const { merges: maxMerges, minCount = 2 } = options ?? ({} as TrainBpeOptions);
  if (!Number.isInteger(maxMerges) || maxMerges < 0 || maxMerges > MAX_VOCAB_SIZE - VOCAB_SIZE) {
    throw new RangeError(`options.merges must be an integer from 0 to ${MAX_VOCAB_SIZE - VOCAB_SIZE}, got ${shown(maxMerges)}`);
  }
  if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`options.minCount must be an integer >= 1, got ${shown(minCount)}`);
  const freq = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== 'string') throw new TypeError('texts must be strings');
    for (const c of chunks(text)) freq.set(c, (freq.get(c) ?? 0) + 1);
  }
  const words = [...freq].map(([c, n]) => ({ ids: Array.from(Buffer.from(c, 'utf8')), n }));
  const merges: Merge[] = [];
  while (merges.length < maxMerges) {
    const counts = new Map<number, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.ids.length; i++) {
        const key = w.ids[i] * MAX_VOCAB_SIZE + w.ids[i + 1];
        counts.set(key, (counts.get(key) ?? 0) + w.n);
      }
    }
    let bestKey = -1;
    let bestCount = 0;
    for (const [key, n] of counts) {
      if (n < bestCount || (n === bestCount && key >= bestKey)) continue;
      bestKey = key;
      bestCount = n;
    }
    if (bestKey < 0 || bestCount < minCount) break;
    const l = Math.floor(bestKey / MAX_VOCAB_SIZE);
    const r = bestKey % MAX_VOCAB_SIZE;
    const id = VOCAB_SIZE + merges.length;
    merges.push([l, r]);
    for (const w of words) {
      const next: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (i + 1 < w.ids.length && w.ids[i] === l && w.ids[i + 1] === r) {
          next.push(id);
          i++;
        } else next.push(w.ids[i]);
      }
      w.ids = next;
    }
  }
  return new Tokenizer(merges);
}
