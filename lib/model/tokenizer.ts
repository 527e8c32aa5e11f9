/**
 * The built-in model's tokenizer: byte level. Token ids 0..255 are the bytes of
 * the UTF-8 text; four special tokens follow: bos 256 (start of the text), eos
 * 257 (end of a response), pad 258 (reserved, never fed to the model: batches
 * are packed, not padded), image 259 (marks the image-token positions). Every
 * string round-trips; decoding skips special tokens and replaces invalid UTF-8
 * (a sample cut mid-character) with U+FFFD.
 */
export const BOS = 256;
export const EOS = 257;
export const PAD = 258;
export const IMAGE = 259;
export const VOCAB_SIZE = 260;

export class ByteTokenizer {
  readonly vocabSize = VOCAB_SIZE;
  readonly bos = BOS;
  readonly eos = EOS;
  readonly pad = PAD;
  readonly image = IMAGE;

  /** The UTF-8 bytes of `text` as token ids (no special tokens). */
  encode(text: string): Int32Array {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
    return Int32Array.from(Buffer.from(text, 'utf8'));
  }

  /** Text of the byte tokens; special tokens are skipped. */
  decode(tokens: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < tokens.length; i++) if (tokens[i] >= 0 && tokens[i] < 256) bytes.push(tokens[i]);
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
  }

  /** The description written to tokenizer.json. */
  toJSON(): Record<string, unknown> {
    return {
      type: 'byte-level',
      vocabSize: VOCAB_SIZE,
      bytes: '0-255: UTF-8 bytes',
      specialTokens: { bos: BOS, eos: EOS, pad: PAD, image: IMAGE },
      layout: '[image tokens][bos][prompt bytes][response bytes][eos]',
    };
  }
}
