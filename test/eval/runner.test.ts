import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EndpointPairJudge, ResumeMismatchError, runEval, readPredictions, type PairJudge, type EvalSummary } from '../../lib/eval';
import { closedPort, promptText, startFakeOpenAI, type ChatRequestBody, type FakeServer } from './helpers/fake-openai';
import { parseR1Prompt, think } from './helpers/prompt-parse';

const FIX = path.join(__dirname, '..', 'fixtures', 'benchmarks');
const IMAGES = path.join(FIX, 'images');
const SYN = path.join(FIX, 'synthetic.jsonl');
// The right response text of each synthetic.jsonl row.
const CORRECT_TEXT: Record<string, string> = { 'syn-0': 'Red.', 'syn-1': 'Blue.', 'syn-2': 'One.', 'syn-3': 'One.' };

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-eval-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));
let dirN = 0;
const outDir = () => path.join(ROOT, `run${dirN++}`);

/** Which synthetic row a request is about (by the image bytes and the question). */
function rowOf(body: ChatRequestBody): string {
  const p = parseR1Prompt(promptText(body));
  const url = (body.messages[0].content as Array<Record<string, any>>)[1].image_url.url as string;
  const red = fs.readFileSync(path.join(IMAGES, 'general', 'red.png')).toString('base64');
  const isRed = url.endsWith(red);
  if (p.question.startsWith('What color')) return isRed ? 'syn-0' : 'syn-1';
  return isRed ? 'syn-2' : 'syn-3';
}

/** A perfect model: names the response whose text is the right one. */
function oracle(body: ChatRequestBody): string {
  const p = parseR1Prompt(promptText(body));
  const n = p.response1 === CORRECT_TEXT[rowOf(body)] ? 1 : 2;
  return think(`Response ${n} is better.`, n);
}

describe('runEval against an OpenAI-compatible test server', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('a perfect model: every metric is 1, files are written, K samples come from one request each', async () => {
    server = await startFakeOpenAI((b) => ({ texts: Array.from({ length: b.n ?? 1 }, () => oracle(b)) }));
    const out = outDir();
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'r1' });
    const progress: number[] = [];
    const { summary, files } = await runEval({
      bench: 'synthetic',
      data: SYN,
      images: IMAGES,
      judge,
      model: 'r1',
      samples: 3,
      out,
      onProgress: (p) => progress.push(p.done),
    });
    expect(server.requests).toHaveLength(4);
    expect(server.requests.every((r) => r.n === 3 && r.temperature === 1)).toBe(true);
    expect(summary).toMatchObject({
      bench: 'synthetic',
      pairs: 4,
      evaluations: 4,
      samples: 3,
      temperature: 1,
      overall: 1,
      macro: 1,
      votingAtK: { '1': 1, '2': 1, '3': 1 },
      anyCorrectAtK: { '1': 1, '2': 1, '3': 1 },
      categories: { color: { n: 2, accuracy: 1 }, count: { n: 2, accuracy: 1 } },
      parseFailures: { count: 0, rate: 0 },
      parseFallbacks: 0,
      swap: false,
    });
    expect(summary.positionConsistency).toBeUndefined();
    expect(progress[0]).toBe(0);
    expect(progress[progress.length - 1]).toBe(4);
    const lines = fs
      .readFileSync(files.predictions, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(12);
    expect(lines[0]).toMatchObject({ order: 'original', verdict: expect.any(Number), correct: true, parse: 'answer' });
    const onDisk = JSON.parse(fs.readFileSync(files.summary, 'utf8')) as EvalSummary;
    expect(onDisk.overall).toBe(1);
    const html = fs.readFileSync(files.report, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Voting@k');
    expect(html).not.toMatch(/<script|src="http/);
  });

  it('Voting@k, Any-correct@k and parse failures end to end', async () => {
    // Per row, the K=3 samples the model gives (by position of the right response, r = right, w = wrong).
    const plan: Record<string, string[]> = {
      'syn-0': ['w', 'r', 'r'], // V@1 0, V@2 tie->w 0, V@3 1; any: 0,1,1
      'syn-1': ['r', 'w', 'w'], // V@1 1, V@2 tie->r 1, V@3 0; any: 1,1,1
      'syn-2': ['junk', 'fallback-r', 'w'], // V@1 none 0, V@2 r 1, V@3 tie -> r (earliest parsed) 1; any 0,1,1
      'syn-3': ['three', 'junk', 'junk'], // never parsed: 0
    };
    server = await startFakeOpenAI((b) => {
      const p = parseR1Prompt(promptText(b));
      const right = p.response1 === CORRECT_TEXT[rowOf(b)] ? 1 : 2;
      return {
        texts: plan[rowOf(b)].map((s) =>
          s === 'r'
            ? think('x', right)
            : s === 'w'
              ? think('x', 3 - right)
              : s === 'three'
                ? think('x', 3)
                : s === 'junk'
                  ? 'I cannot decide.'
                  : `<think>x</think>\nFinal answer: ${right}`,
        ),
      };
    });
    const { summary } = await runEval({
      bench: 'synthetic',
      data: SYN,
      images: IMAGES,
      judge: new EndpointPairJudge({ baseURL: server.url, model: 'm' }),
      model: 'm',
      samples: 3,
      out: outDir(),
    });
    expect(summary.votingAtK).toEqual({ '1': 0.25, '2': 0.5, '3': 0.5 });
    expect(summary.anyCorrectAtK).toEqual({ '1': 0.25, '2': 0.75, '3': 0.75 });
    expect(summary.overall).toBe(0.5);
    expect(summary.noVerdict).toBe(1);
    expect(summary.parseFailures).toMatchObject({ count: 4, rate: 4 / 12, byReason: { 'no-answer': 3, 'invalid-answer': 1 } });
    expect(summary.parseFailures.examples).toHaveLength(4);
    expect(summary.parseFallbacks).toBe(1);
    expect(summary.meanSampleAccuracy).toBeCloseTo(4 / 12);
    expect(summary.difficulties).toEqual({ '1': { n: 1, accuracy: 1 }, '2': { n: 1, accuracy: 0 }, '3': { n: 1, accuracy: 1 } });
  });

  it('--swap shows every pair in both orders and measures position bias', async () => {
    server = await startFakeOpenAI(() => ({ texts: [think('Response 1 is better.', 1)] })); // always "1"
    const { summary, files } = await runEval({
      bench: 'synthetic',
      data: SYN,
      images: IMAGES,
      judge: new EndpointPairJudge({ baseURL: server.url, model: 'm' }),
      model: 'm',
      swap: true,
      out: outDir(),
    });
    expect(server.requests).toHaveLength(8);
    // The swapped request of a pair shows the responses exchanged.
    const shown = server.requests.map((r) => parseR1Prompt(promptText(r)));
    const pairs = new Set(shown.map((p) => [p.question, p.response1, p.response2].join('|')));
    for (const p of shown) expect(pairs.has([p.question, p.response2, p.response1].join('|'))).toBe(true);
    // synthetic labels are 1, 2, 2, 1.
    expect(summary.orders).toEqual({ original: { n: 4, accuracy: 0.5 }, swapped: { n: 4, accuracy: 0.5 } });
    expect(summary.byPreferredPosition).toEqual({ '1': { n: 4, accuracy: 1 }, '2': { n: 4, accuracy: 0 } });
    expect(summary.positionConsistency).toBe(0);
    expect(summary.evaluations).toBe(8);
    const recs = fs
      .readFileSync(files.predictions, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const syn1 = recs.filter((r) => r.key === 'syn-1');
    expect(syn1.map((r) => [r.order, r.label]).sort()).toEqual([
      ['original', 2],
      ['swapped', 1],
    ]);
  });

  it('resumes after an interruption and redoes nothing that was saved', async () => {
    const out = outDir();
    let calls = 0;
    // The first server dies (non-retryable 400) after two good answers.
    server = await startFakeOpenAI((b) => (++calls <= 2 ? { texts: [oracle(b)] } : { status: 400, body: { error: { message: 'server going away' } } }));
    const opts = { bench: 'synthetic' as const, data: SYN, images: IMAGES, model: 'm', out, concurrency: 1 };
    await expect(runEval({ ...opts, judge: new EndpointPairJudge({ baseURL: server.url, model: 'm' }) })).rejects.toThrow(
      /evaluation stopped: .*server going away.*2 of 4 done .*rerun the same command to resume/,
    );
    await server.close();
    // An interruption in the middle of a write leaves half a line.
    fs.appendFileSync(path.join(out, 'predictions.jsonl'), '{"key":"syn-2","order":"orig');
    server = await startFakeOpenAI((b) => ({ texts: Array.from({ length: b.n ?? 1 }, () => oracle(b)) }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm' });
    const { summary } = await runEval({ ...opts, judge });
    expect(server.requests).toHaveLength(2);
    expect(summary).toMatchObject({ resumedTasks: 2, overall: 1, evaluations: 4 });
    const { byTask, badLines } = readPredictions(path.join(out, 'predictions.jsonl'));
    expect(badLines).toBe(0);
    expect(byTask.size).toBe(4);
    // Nothing left to do: a third run makes no request and gives the same numbers.
    const again = await runEval({ ...opts, judge });
    expect(server.requests).toHaveLength(2);
    expect(again.summary.overall).toBe(1);
    // More samples later: only the missing ones are asked for.
    const more = await runEval({ ...opts, judge, samples: 3, temperature: 0 });
    expect(server.requests.slice(2).map((r) => r.n)).toEqual([2, 2, 2, 2]);
    expect(more.summary.votingAtK).toEqual({ '1': 1, '2': 1, '3': 1 });
  });

  it('an abort signal stops the run and keeps what was done', async () => {
    const out = outDir();
    const ac = new AbortController();
    const judge: PairJudge = {
      name: 'fake',
      async judge(_p, o) {
        return Array.from({ length: o.samples }, () => think('Response 1 is better.', 1));
      },
    };
    await expect(
      runEval({
        bench: 'synthetic',
        data: SYN,
        images: IMAGES,
        judge,
        model: 'f',
        out,
        concurrency: 1,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.done === 1) ac.abort(new Error('interrupted by the user'));
        },
      }),
    ).rejects.toThrow(/interrupted by the user.*1 of 4 done/);
    const { byTask } = readPredictions(path.join(out, 'predictions.jsonl'));
    expect(byTask.size).toBe(1);
  });

  it('refuses to mix runs in one folder', async () => {
    const out = outDir();
    const judge: PairJudge = { name: 'fake', judge: async (_p, o) => Array(o.samples).fill(think('x', 1)) };
    await runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, limit: 1 });
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'b', out, limit: 1 })).rejects.toThrow(ResumeMismatchError);
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, temperature: 0.7, limit: 1 })).rejects.toThrow(
      /temperature: 0 there, 0.7 now/,
    );
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, topP: 0.9, limit: 1 })).rejects.toThrow(
      /topP: 1 there, 0.9 now/,
    );
    // A run.json written before topP existed is a run with the full softmax.
    const runFile = path.join(out, 'run.json');
    const { topP: _topP, ...older } = JSON.parse(fs.readFileSync(runFile, 'utf8'));
    fs.writeFileSync(runFile, JSON.stringify(older));
    expect((await runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, limit: 1 })).summary.topP).toBe(1);
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, topP: 0.5, limit: 1 })).rejects.toThrow(
      /topP: 1 there, 0.5 now/,
    );
  });

  it('passes nucleus sampling to the judge and records it', async () => {
    const out = outDir();
    const seen: Array<number | undefined> = [];
    const judge: PairJudge = {
      name: 'fake',
      judge: async (_p, o) => {
        seen.push(o.topP);
        return Array(o.samples).fill(think('x', 1));
      },
    };
    const { summary, files } = await runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out, samples: 2, topP: 0.9, limit: 2 });
    expect(seen).toEqual([0.9, 0.9]);
    expect(summary).toMatchObject({ samples: 2, temperature: 1, topP: 0.9 });
    expect(JSON.parse(fs.readFileSync(files.run, 'utf8')).topP).toBe(0.9);
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'a', out: outDir(), topP: 0 })).rejects.toThrow(
      /topP must be in \(0, 1\], got 0/,
    );
  });

  it('an unreachable endpoint fails with a clear final error', async () => {
    const judge = new EndpointPairJudge({ baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: 'm', maxRetries: 1, retryBaseDelayMs: 1 });
    await expect(runEval({ bench: 'synthetic', data: SYN, images: IMAGES, judge, model: 'm', out: outDir() })).rejects.toThrow(
      /evaluation stopped: endpoint .* is unreachable \(.*ECONNREFUSED.*2 attempts\)/,
    );
  });

  it('Acc+ for MM-RLHF-RewardBench', async () => {
    // Right on everything except the second long_1 row.
    const judge: PairJudge = {
      name: 'fake',
      async judge(p, o) {
        const wrongOnPurpose = p.response1 === 'A red car.' || p.response2 === 'A red car.';
        const chosenFirst = ['A', 'A dark navy square, uniform.', 'Grey-blue.', "I can't help with that.", 'Nothing moves.'].includes(p.response1);
        const n = chosenFirst !== wrongOnPurpose ? 1 : 2;
        return Array(o.samples).fill(think('x', n));
      },
    };
    const { summary } = await runEval({
      bench: 'mm-rlhf-rewardbench',
      data: path.join(FIX, 'mm-rlhf-rewardbench.jsonl'),
      images: IMAGES,
      judge,
      model: 'f',
      out: outDir(),
    });
    expect(summary.overall).toBeCloseTo(5 / 6);
    expect(summary.accPlus).toEqual({ ids: 5, accuracy: 4 / 5 });
    expect(summary.categories.long).toEqual({ n: 2, accuracy: 0.5 });
    expect(summary.skipped.count).toBe(0);
  });

  it('checks VL-RewardBench category counts against the official split (183/749/318)', async () => {
    const judge: PairJudge = { name: 'fake', judge: async (_p, o) => Array(o.samples).fill(think('x', 1)) };
    const write = (ids: string[]) => {
      const f = path.join(ROOT, `vl-${dirN++}.jsonl`);
      fs.writeFileSync(f, ids.map((id) => JSON.stringify({ id, prompt: 'q', chosen: 'a', rejected: 'b', image: 'general/red.png' })).join('\n'));
      return f;
    };
    const ids = (g: number, h: number, r: number) => [
      ...Array.from({ length: g }, (_, i) => `wildvision_${i}`),
      ...Array.from({ length: h }, (_, i) => (i % 2 ? `RLHF-V_${i}` : `hallucination_pair_${i}`)),
      ...Array.from({ length: r }, (_, i) => `mmmu_${i}`),
    ];
    const official = await runEval({ bench: 'vl-rewardbench', data: write(ids(183, 749, 318)), images: IMAGES, judge, model: 'f', out: outDir() });
    expect(official.summary.categories.general.n).toBe(183);
    expect(official.summary.warnings).toEqual([]);
    const off = await runEval({ bench: 'vl-rewardbench', data: write(ids(484, 448, 318)), images: IMAGES, judge, model: 'f', out: outDir() });
    expect(off.summary.warnings).toEqual([expect.stringMatching(/differ from the official split/)]);
  });

  it('--skip-missing: skipped rows are counted and reported, the rest is evaluated', async () => {
    const f = path.join(ROOT, `skip-${dirN++}.jsonl`);
    const row = (id: string, image: string) => JSON.stringify({ id, image, question: 'q', response1: 'a', response2: 'b', label: 1 });
    fs.writeFileSync(f, [row('a', 'general/red.png'), row('b', 'general/missing.png'), row('c', 'general/blue.png')].join('\n') + '\n');
    const judge: PairJudge = { name: 'fake', judge: async (_p, o) => Array(o.samples).fill(think('x', 1)) };
    await expect(runEval({ bench: 'synthetic', data: f, images: IMAGES, judge, model: 'f', out: outDir() })).rejects.toThrow(/:2 \(id "b"\): image not found/);
    const { summary } = await runEval({ bench: 'synthetic', data: f, images: IMAGES, judge, model: 'f', out: outDir(), skipMissing: true });
    expect(summary.pairs).toBe(2);
    expect(summary.skipped).toEqual({ count: 1, rows: [{ row: 2, id: 'b', reason: expect.stringMatching(/image not found/) }] });
    expect(summary.warnings).toEqual(['1 row(s) skipped (see skipped.rows)']);
  });
});
