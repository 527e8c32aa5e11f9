/**
 * The byte-level BPE tokenizer: learning merges, encoding against an
 * independent reference, round trips, the saved form, and the model with a
 * BPE vocabulary (save/load, logits width, stop strings inside merged tokens).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PolicyModel, Tokenizer, trainBpe } from '../../lib';
import type { ModelConfigInput } from '../../lib';
import { Rng, seedNote } from '../helpers/random';
import { randomizeParameters, tempDir } from './helpers';

const rng = new Rng();
const WORDS = ['the', 'top', 'left', 'red', 'circle', 'Response', 'is', 'better', '1', '2', '42', '.', ':', '</think>', '\n', 'é', '日本', '🙂'];

function randomSentence(r: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const w = WORDS[r.int(0, WORDS.length)];
    s += (r.next() < 0.7 ? ' ' : '') + w;
  }
  return s;
}

/** Reference encoder, written independently: bytes of each chunk, then every merge applied in learnt order. */
function referenceEncode(text: string, merges: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const chunk of text.match(/ ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu) ?? []) {
    let ids = Array.from(Buffer.from(chunk, 'utf8'));
    merges.forEach(([l, r], i) => {
      const next: number[] = [];
      for (let j = 0; j < ids.length; j++) {
        if (j + 1 < ids.length && ids[j] === l && ids[j + 1] === r) {
          next.push(260 + i);
          j++;
        } else next.push(ids[j]);
      }
      ids = next;
    });
    out.push(...ids);
  }
  return out;
}

describe('trainBpe and encode', () => {
  const corpus = Array.from({ length: 300 }, () => randomSentence(rng, 12));
  const tok = trainBpe(corpus, { merges: 80 });

  test('learns merges that shorten the corpus; the result depends only on the texts', () => {
    expect(tok.merges.length).toBe(80);
    expect(tok.vocabSize).toBe(340);
    const bytes = corpus.reduce((n, t) => n + Buffer.byteLength(t), 0);
    const tokens = corpus.reduce((n, t) => n + tok.encode(t).length, 0);
    expect(tokens).toBeLessThan(bytes / 2);
    expect(trainBpe(corpus, { merges: 80 }).merges).toEqual(tok.merges);
    expect(trainBpe([...corpus].reverse(), { merges: 80 }).merges).toEqual(tok.merges);
  });

  test('encoding matches the reference and decodes back, on fresh text (unicode, unseen words)', () => {
    const r = new Rng();
    for (let i = 0; i < 200; i++) {
      const text = randomSentence(r, r.int(0, 20)) + (r.next() < 0.3 ? ' unseenword\t\t 7x' : '');
      const ids = tok.encode(text);
      expect({ text, ids: Array.from(ids), seed: seedNote }).toEqual({ text, ids: referenceEncode(text, tok.merges), seed: seedNote });
      expect(tok.decode(ids)).toBe(text);
    }
    expect(Array.from(tok.encode(''))).toEqual([]);
  });

  test('stops early when no pair occurs minCount times; 0 merges is byte level', () => {
    const t = trainBpe(['ab ab ab', 'cd'], { merges: 50 });
    expect(t.merges).toEqual([
      [97, 98],
      [32, 260],
    ]); // "ab" (3 times), " " + "ab" (twice); "cd" once: stop
    expect(Array.from(trainBpe(['aaaa'], { merges: 0 }).encode('hé'))).toEqual([104, 195, 169]);
  });

  test('bad options and bad merges are named errors', () => {
    expect(() => trainBpe(['x'], { merges: -1 })).toThrow(/options.merges/);
    expect(() => trainBpe(['x'], { merges: 1, minCount: 0 })).toThrow(/options.minCount/);
    expect(() => trainBpe([3 as unknown as string], { merges: 1 })).toThrow(TypeError);
    expect(() => new Tokenizer([[97, 260]])).toThrow(/merges\[0\]/);
    expect(() => new Tokenizer([[97, 256]])).toThrow(/not a special token/);
    expect(
      () =>
        new Tokenizer([
          [97, 98],
          [97, 98],
        ]),
    ).toThrow(/repeats/);
  });

  test('toJSON / fromJSON round trip; a vocabSize that disagrees with the merges is an error', () => {
    const j = JSON.parse(JSON.stringify(tok.toJSON()));
    expect(j.type).toBe('byte-level-bpe');
    const back = Tokenizer.fromJSON(j);
    expect(back.merges).toEqual(tok.merges);
    expect(() => Tokenizer.fromJSON({ ...j, vocabSize: 999 })).toThrow(/vocabSize/);
    expect(() => Tokenizer.fromJSON({ ...j, type: 'wordpiece' })).toThrow(/type/);
    expect(new Tokenizer().toJSON().merges).toBeUndefined();
  });

  test('byteTable gives each token its bytes', () => {
    const { data, offsets } = tok.byteTable();
    expect(offsets.length).toBe(tok.vocabSize + 1);
    for (let t = 0; t < tok.vocabSize; t++) {
      const b = Buffer.from(data.subarray(offsets[t], offsets[t + 1]));
      expect(b.equals(Buffer.from(tok.bytes([t])))).toBe(true);
    }
    expect(offsets[257] - offsets[256]).toBe(0); // special tokens have no bytes
  });
});

describe('the model with a BPE vocabulary', () => {
  const TINY: ModelConfigInput = { dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, imageSize: 8, patchSize: 4, maxSeqLen: 64 };
  const tok = trainBpe(Array.from({ length: 200 }, () => randomSentence(new Rng(7), 10)).concat(['</answer>', 'ab</answer>cd']), { merges: 60 });

  test('vocabSize follows the tokenizer; a mismatch is an error', () => {
    const m = PolicyModel.create(TINY, { tokenizer: tok });
    expect(m.config.vocabSize).toBe(tok.vocabSize);
    m.dispose();
    expect(() => PolicyModel.create({ ...TINY, vocabSize: 300 }, { tokenizer: tok })).toThrow(/does not match the tokenizer/);
    expect(() => PolicyModel.create(TINY, { tokenizer: {} as Tokenizer })).toThrow(/options.tokenizer/);
  });

  test('save/load keeps the tokenizer; log-probs and logits use its tokens', async () => {
    const model = PolicyModel.create(TINY, { tokenizer: tok, seed: 5 });
    randomizeParameters(model, rng, 0.5);
    const dir = tempDir('bpe');
    await model.save(dir);
    const loaded = await PolicyModel.load(dir);
    expect(loaded.tokenizer.merges).toEqual(tok.merges);
    expect(loaded.config.vocabSize).toBe(tok.vocabSize);
    const batch = [{ image: rng.float32(8 * 8 * 3, 0, 1), prompt: ' the red', response: ' circle is better' }];
    const a = await model.logprobs(batch, { grad: false });
    const b = await loaded.logprobs(batch, { grad: false });
    expect(Array.from(b.logprobs.toArray())).toEqual(Array.from(a.logprobs.toArray()));
    expect(a.logprobs.shape[1]).toBe(tok.encode(' circle is better').length + 1); // + eos
    const logits = await model.logits(batch);
    expect(logits.shape[2]).toBe(tok.vocabSize);
    // A model saved without tokenizer.json (older folders) loads as byte level.
    const byteModel = PolicyModel.create(TINY);
    const dir2 = tempDir('bytes');
    await byteModel.save(dir2);
    fs.rmSync(path.join(dir2, 'tokenizer.json'));
    expect((await PolicyModel.load(dir2)).tokenizer.vocabSize).toBe(260);
    // A tokenizer.json whose merges disagree with config.json's vocabSize is refused.
    fs.writeFileSync(path.join(dir2, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
    await expect(PolicyModel.load(dir2)).rejects.toThrow(/does not match the tokenizer/);
    for (const m of [model, loaded, byteModel]) m.dispose();
  });

  test('a stop string ends a sample even when it ends inside a merged token; the text is cut before it', async () => {
    const model = PolicyModel.create(TINY, { tokenizer: tok, seed: 9 });
    randomizeParameters(model, new Rng(99), 1.5);
    const stops = ['e', 'th', '</'];
    const out = await model.generate([{ prompt: ' the' }], { maxNewTokens: 40, n: 16, seed: 3, temperature: 2, stop: stops });
    let stopped = 0;
    for (const s of out[0]) {
      const full = tok.decode(s.tokens);
      const firstHit = Math.min(...stops.map((st) => (full.indexOf(st) < 0 ? Infinity : full.indexOf(st))));
      if (s.finishReason === 'stop') {
        stopped++;
        expect(s.text).toBe(full.slice(0, firstHit));
        // It stopped at the first token that completed a stop string.
        const before = tok.decode(s.tokens.subarray(0, s.tokens.length - 1));
        expect(stops.filter((st) => before.includes(st))).toEqual([]);
      } else {
        expect(firstHit).toBe(Infinity);
      }
    }
    expect(stopped).toBeGreaterThan(0);
    model.dispose();
  });
});
