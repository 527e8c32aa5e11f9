import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { buildPrompt, EndpointPairJudge } from '../../lib/eval';
import { OpenAIConsistencyJudge, type ConsistencyJudge } from '../../lib/rewards';
import { createRewardServer, extractResponse, getRewards, LabelIndex, type RewardServer } from '../../lib/serve';
import { startFakeOpenAI, type FakeServer } from '../eval/helpers/fake-openai';
import { post, request } from './http-helpers';

const IMAGES = path.join(__dirname, '..', 'fixtures', 'benchmarks', 'images');
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-serve-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

/** A Qwen-style chat prompt around an R1-Reward prompt, as OpenRLHF decodes it. */
const chat = (q: string, r1: string, r2: string) =>
  `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>${buildPrompt(q, r1, r2)}<|im_end|>\n<|im_start|>assistant\n`;
const out = (analysis: string, answer: string) => `<think>${analysis}</think><answer>${answer}</answer>`;

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('extractResponse', () => {
  const p = chat('q', 'a', 'b');
  it.each([
    [p + out('x', '1') + '<|im_end|>', p, out('x', '1')],
    [p + out('x', '2') + '<|im_end|><|endoftext|><|endoftext|>', p, out('x', '2')],
    ['<s>' + p + out('x', '1') + '</s>', p, out('x', '1')], // a BOS token before the prompt
    [p + out('x', '1') + '<|im_end|>', undefined, out('x', '1')], // no prompt: after the last assistant marker
    [out('x', '1') + '\n', undefined, out('x', '1')],
  ])('%#', (query, prompt, want) => {
    expect(extractResponse(query, prompt)).toBe(want);
  });
});

describe('reward service over HTTP', () => {
  let svc: RewardServer | undefined;
  let base = '';
  let fake: FakeServer | undefined;
  const start = async (opts: Parameters<typeof createRewardServer>[0] = {}) => {
    svc = createRewardServer(opts);
    base = (await svc.listen(0, '127.0.0.1')).url;
  };
  afterEach(async () => {
    await svc?.close({ timeoutMs: 2000 });
    svc = undefined;
    await fake?.close();
    fake = undefined;
  });

  it('POST /get_reward: the OpenRLHF protocol with labels in the request', async () => {
    await start();
    const p = chat('Which color?', 'Red.', 'Blue.');
    const query = [
      p + out('Response 1 is wrong.\nResponse 2 is better.', '2') + '<|im_end|>', // right, consistent, formatted: 2
      p + out('Response 1 is better.', '2') + '<|im_end|>', // right, inconsistent: 1
      p + 'Response 2.<|im_end|>', // no tags: 0
      p + out('Response 2 is better.', '2') + out('again', '2'), // two answers: format 0, result 0
      p + out('Response 1 is better.', '1') + '<|im_end|>', // wrong: 0.5
      p + out('', '2'), // empty analysis: no conclusion -> 1.5
      p + out('Response 2 is better.', '3'), // answer 3: 0.5
    ];
    const r = await post(`${base}/get_reward`, { query, prompts: query.map(() => p), labels: ['2', 2, '2', '<answer>2</answer>', '2', '2', '2'] });
    expect(r.status).toBe(200);
    expect(r.body.rewards).toEqual([2, 1, 0, 0, 0.5, 1.5, 0.5]);
    expect(r.body.score).toEqual(r.body.rewards);
    const d = await post(`${base}/get_reward?details=1`, { query: [query[0]], prompts: [p], labels: ['2'] });
    expect(d.body.details).toEqual([{ format: 1, result: 1, consistency: 1, verdict: 2, label: 2 }]);
  });

  it('labels from --data, matched by prompt (R1-Reward rows and synthetic rows)', async () => {
    const file = path.join(ROOT, 'train.jsonl');
    const r1Row = {
      message: JSON.stringify([
        {
          role: 'user',
          content: [
            { type: 'text', text: buildPrompt('Which color?', 'Red.', 'Blue.') },
            { type: 'image', image: 'a.png' },
          ],
        },
      ]),
      question: 'Which color?',
      answer: ['<answer>2</answer>'],
    };
    const synRow = { id: 's', image: 'x.png', question: 'How many?', response1: 'One.', response2: 'Two.', label: 1 };
    fs.writeFileSync(file, JSON.stringify(r1Row) + '\n' + JSON.stringify(synRow) + '\n');
    const labels = LabelIndex.fromFile(file);
    expect(labels.size).toBe(2);
    await start({ labels });
    const p1 = chat('Which color?', 'Red.', 'Blue.');
    const p2 = chat('How many?', 'One.', 'Two.');
    const q = [p1 + out('Response 2 is better.', '2'), p2 + out('Response 2 is better.', '2')];
    const r = await post(`${base}/get_reward`, { query: q, prompts: [p1, p2] });
    expect(r.body.rewards).toEqual([2, 0.5]);
    // Without prompts the label is found from the query itself; a null label falls back to the dataset.
    const r2 = await post(`${base}/get_reward`, { query: q, labels: [null, '2'] });
    expect(r2.body.rewards).toEqual([2, 2]);
    const miss = await post(`${base}/get_reward`, { query: [chat('Other?', 'a', 'b') + out('x', '1')] });
    expect(miss.status).toBe(400);
    expect(miss.body.error).toMatch(/labels\[0\].*no row of the dataset matches query\[0\]/);
  });

  it.each([
    ['not JSON', '{"query": [', /not valid JSON/],
    ['not an object', '[1]', /body must be a JSON object/],
    ['no query', '{}', /query is required/],
    ['query not an array', '{"query": "x"}', /query must be an array/],
    ['query item not a string', '{"query": ["a", 3], "labels": [1, 1]}', /query\[1\] must be a string/],
    ['prompts length', '{"query": ["a"], "prompts": [], "labels": [1]}', /prompts must have as many items as query/],
    ['labels length', '{"query": ["a"], "labels": [1, 2]}', /labels must have as many items/],
    ['bad label', '{"query": ["a", "b"], "labels": [1, "3"]}', /labels\[1\] must be 1, 2/],
    ['no label, no data', '{"query": ["a"]}', /labels\[0\]: no label in the request \(send labels, or start the service with --data FILE\)/],
  ])('400 naming the field: %s', async (_n, raw, msg) => {
    await start();
    const r = await post(`${base}/get_reward`, undefined, { raw });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(msg);
  });

  it('404, 405, 413 and GET /health', async () => {
    await start({ maxBodyBytes: 1000 });
    expect((await request(`${base}/nope`, 'GET')).status).toBe(404);
    const m = await request(`${base}/get_reward`, 'GET');
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('POST');
    const big = await post(`${base}/get_reward`, { query: ['x'.repeat(2000)], labels: [1] });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/larger than 1000 bytes/);
    const h = await request(`${base}/health`, 'GET');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', judge: 'rule-based', scorer: null, labels: null, concurrency: 8 });
    expect(h.body.stats.responses['413']).toBe(1);
  });

  it('a few hundred concurrent requests: all answered, nothing lost or mixed up', async () => {
    await start({ concurrency: 4, maxQueue: 1000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const p = chat('q', 'a', 'b');
    const N = 300;
    const replies = await Promise.all(
      Array.from({ length: N }, (_, i) => {
        // Item i: right (2) when i % 3 == 0, wrong (0.5) when 1, malformed (0) when 2; plus its index to check order.
        const kinds = [out('Response 2 is better.', '2'), out('Response 1 is better.', '1'), 'junk'];
        const query = [p + kinds[i % 3], p + kinds[(i + 1) % 3]];
        return post(`${base}/get_reward`, { query, prompts: [p, p], labels: ['2', '2'] }, { agent });
      }),
    );
    agent.destroy();
    const want = [2, 0.5, 0];
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.body.rewards).toEqual([want[i % 3], want[(i + 1) % 3]]);
    });
    expect(svc!.stats.rewards).toBe(2 * N);
    expect(svc!.stats.requests.get_reward).toBe(N);
  });

  /** A judge that holds every call until the test opens the gate, and says when a call arrives. */
  function gatedJudge() {
    let open!: () => void;
    const gate = new Promise<void>((ok) => (open = ok));
    let entered!: () => void;
    const firstCall = new Promise<void>((ok) => (entered = ok));
    const judge: ConsistencyJudge = {
      name: 'gated',
      judge: async () => {
        entered();
        await gate;
        return 1;
      },
    };
    return { judge, open, firstCall };
  }

  it('a full queue answers 503 with Retry-After; the admitted requests still finish', async () => {
    const g = gatedJudge();
    await start({ judge: g.judge, concurrency: 1, maxQueue: 2 });
    const p = chat('q', 'a', 'b');
    const body = { query: [p + out('Response 2 is better.', '2')], prompts: [p], labels: ['2'] };
    const admitted = [post(`${base}/get_reward`, body)];
    await g.firstCall; // one request is being processed...
    admitted.push(post(`${base}/get_reward`, body), post(`${base}/get_reward`, body));
    for (let i = 0; i < 200 && svc!.load().queued + svc!.load().active < 3; i++) await sleep(5); // ...two wait
    const busy = await Promise.all([post(`${base}/get_reward`, body), post(`${base}/get_reward`, body)]);
    expect(busy.map((r) => r.status)).toEqual([503, 503]);
    expect(busy[0].headers['retry-after']).toBe('1');
    expect(busy[0].body.error).toMatch(/busy/);
    g.open();
    const ok = await Promise.all(admitted);
    expect(ok.map((r) => [r.status, r.body.rewards[0]])).toEqual([
      [200, 2],
      [200, 2],
      [200, 2],
    ]);
    expect(svc!.stats.busy).toBe(2);
  });

  it('graceful shutdown finishes the request in flight and refuses new ones', async () => {
    const g = gatedJudge();
    await start({ judge: g.judge });
    const p = chat('q', 'a', 'b');
    const inFlight = post(`${base}/get_reward`, { query: [p + out('Response 2 is better.', '2')], prompts: [p], labels: ['2'] });
    await g.firstCall;
    let closed = false;
    const closing = svc!.close().then(() => (closed = true));
    await sleep(20);
    expect(closed).toBe(false); // waits for the request in flight
    await expect(post(`${base}/get_reward`, { query: ['x'], labels: [1] })).rejects.toThrow(/ECONNREFUSED/);
    g.open();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body.rewards).toEqual([2]);
    await closing;
    svc = undefined;
  });

  it('`await using` closes the service when the block ends', async () => {
    let url: string;
    let server: RewardServer['server'];
    {
      await using s = createRewardServer();
      url = (await s.listen(0, '127.0.0.1')).url;
      server = s.server;
      expect((await request(`${url}/health`, 'GET')).status).toBe(200);
    }
    expect(server!.listening).toBe(false);
    // Refused, or (the client's kept-alive socket from the request above) hung up: either way not served.
    await expect(request(`${url!}/health`, 'GET')).rejects.toThrow(/ECONNREFUSED|socket hang up/);
  });

  it('a remote consistency judge (--judge): its verdicts count; its failures give consistency 0, counted', async () => {
    let fail = false;
    fake = await startFakeOpenAI(() => (fail ? { status: 400 } : { texts: ['0'] }));
    const judge = new OpenAIConsistencyJudge({ baseURL: fake.url, model: 'qwen-judge', retryBaseDelayMs: 1 });
    await start({ judge });
    const p = chat('q', 'a', 'b');
    const body = { query: [p + out('Response 2 is better.', '2')], prompts: [p], labels: ['2'] };
    expect((await post(`${base}/get_reward`, body)).body.rewards).toEqual([1]); // judge says inconsistent
    fail = true;
    const body2 = { ...body, query: [p + out('Response 2 is clearly better.', '2')] };
    const r = await post(`${base}/get_reward`, body2);
    expect(r.status).toBe(200);
    expect(r.body.rewards).toEqual([1.5]);
    const h = await request(`${base}/health`, 'GET');
    expect(h.body.stats.reward).toMatchObject({ judged: 2, inconsistent: 1, judgeFailures: 1 });
  });

  it('POST /score: 503 without a model; with an endpoint, votes over K samples', async () => {
    await start();
    const none = await post(`${base}/score`, { question: 'q', response1: 'a', response2: 'b' });
    expect(none.status).toBe(503);
    expect(none.body.error).toMatch(/--endpoint URL --model NAME/);
    await svc!.close();

    fake = await startFakeOpenAI((b) => ({
      texts: [out('Response 2 is better.', '2'), out('Response 1 is better.', '1'), out('Response 2 wins.', '2'), 'no idea'].slice(0, b.n ?? 1),
    }));
    await start({ pairJudge: new EndpointPairJudge({ baseURL: fake.url, model: 'r1' }), imagesDir: IMAGES });
    const r = await post(`${base}/score`, { question: 'Which?', response1: 'a', response2: 'b', image: 'general/red.png', samples: 4 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ verdict: 2, votes: { '1': 1, '2': 2, failed: 1 }, judge: 'endpoint:r1@' + fake.url });
    expect(r.body.samples[0]).toEqual({ verdict: 2, parse: 'answer', analysis: 'Response 2 is better.', output: out('Response 2 is better.', '2') });
    expect(r.body.samples[3]).toMatchObject({ verdict: null, parse: 'no-answer' });
    expect(fake.requests[0]).toMatchObject({ n: 4, temperature: 1 });
    expect(fake.requests[0].top_p).toBeUndefined();
    const content = fake.requests[0].messages[0].content as Array<Record<string, any>>;
    expect(content[1].image_url.url).toMatch(/^data:image\/png;base64,/);
    const nucleus = await post(`${base}/score`, { question: 'Which?', response1: 'a', response2: 'b', samples: 2, topP: 0.95 });
    expect(nucleus.status).toBe(200);
    expect(fake.requests[1]).toMatchObject({ n: 2, temperature: 1, top_p: 0.95 });
  });

  it.each([
    [{ response1: 'a', response2: 'b' }, /question must be a string \(missing\)/],
    [{ question: 'q', response1: 'a', response2: 7 }, /response2 must be a string/],
    [{ question: 'q', response1: 'a', response2: 'b', samples: 0 }, /samples must be an integer from 1 to 32/],
    [{ question: 'q', response1: 'a', response2: 'b', temperature: -1 }, /temperature must be a number from 0 to 2/],
    [{ question: 'q', response1: 'a', response2: 'b', topP: 1.5 }, /topP must be a number in \(0, 1\], got 1.5/],
    [{ question: 'q', response1: 'a', response2: 'b', topP: '0.9' }, /topP must be a number in \(0, 1\], got "0.9"/],
    [{ question: 'q', response1: 'a', response2: 'b', image: '../../etc/passwd' }, /image: path leaves the images folder/],
    [{ question: 'q', response1: 'a', response2: 'b', image: 'general/none.png' }, /image: file not found/],
  ])('POST /score validation: %j', async (body, msg) => {
    await start({ pairJudge: { name: 'x', judge: async () => [] }, imagesDir: IMAGES });
    const r = await post(`${base}/score`, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(msg);
  });
});

describe('limits and security posture (issue 18)', () => {
  let svc: RewardServer | undefined;
  let base = '';
  let port = 0;
  const start = async (opts: Parameters<typeof createRewardServer>[0] = {}) => {
    svc = createRewardServer(opts);
    const a = await svc.listen(0, '127.0.0.1');
    base = a.url;
    port = a.port;
  };
  afterEach(async () => {
    await svc?.close({ timeoutMs: 2000 });
    svc = undefined;
  });

  /** A client that sends the headers of a POST with a 100-byte body, then one byte, then nothing: a slow upload. */
  function slowUpload(): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
      });
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
  }

  it('slow uploads hold no slot: real requests are answered while they trickle; they get 408 and are closed', async () => {
    await start({ concurrency: 2, maxQueue: 4, bodyTimeoutMs: 1500 });
    const slow = Array.from({ length: 8 }, () => slowUpload()); // more than concurrency + maxQueue
    for (let i = 0; i < 400 && svc!.load().reading < 8; i++) await sleep(5);
    expect(svc!.load()).toEqual({ active: 0, queued: 0, reading: 8 });
    const p = chat('q', 'a', 'b');
    const real = await Promise.all(
      Array.from({ length: 6 }, () => post(`${base}/get_reward`, { query: [p + out('Response 2 is better.', '2')], prompts: [p], labels: ['2'] })),
    );
    expect(real.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const answers = await Promise.all(slow);
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 408 [\s\S]*the body did not arrive within 1\.5 s/);
    const h = await request(`${base}/health`, 'GET');
    expect(h.body).toMatchObject({ reading: 0, stats: { bodyTimeouts: 8, busy: 0 } });
  });

  it('headers that never end are cut by the headers timeout', async () => {
    await start({ headersTimeoutMs: 200 });
    const closed = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /get_reward HTTP/1.1\r\nHost: x\r\n'));
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
    });
    expect(closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a URL ending in many slashes is routed in linear time', async () => {
    await start();
    const r = await request(`${base}/health${'/'.repeat(12000)}`, 'GET');
    expect(r.status).toBe(200);
  });

  it('/score stays inside --images: no symbolic link out, regular files only, no server paths in errors', async () => {
    const images = fs.mkdtempSync(path.join(ROOT, 'images-'));
    const outside = path.join(ROOT, 'secret.png');
    fs.writeFileSync(outside, 'not for clients');
    fs.writeFileSync(path.join(images, 'ok.png'), fs.readFileSync(path.join(IMAGES, 'general', 'red.png')));
    fs.symlinkSync(outside, path.join(images, 'link.png'));
    fs.symlinkSync(ROOT, path.join(images, 'up'));
    fs.symlinkSync(path.join(images, 'ok.png'), path.join(images, 'inside.png'));
    fs.mkdirSync(path.join(images, 'dir'));
    const fifo = spawnSync('mkfifo', [path.join(images, 'fifo.png')]).status === 0;
    const seen: string[] = [];
    await start({
      imagesDir: images,
      pairJudge: {
        name: 'x',
        judge: async (pair) => {
          seen.push(pair.media!.path!);
          throw new Error(`cannot read image ${pair.media!.path}: EIO`);
        },
      },
    });
    const score = (image: string) => post(`${base}/score`, { question: 'q', response1: 'a', response2: 'b', image });
    for (const [image, msg] of [
      ['link.png', /image: path leaves the images folder \(through a symbolic link\)/],
      ['up/secret.png', /image: path leaves the images folder \(through a symbolic link\)/],
      ['dir', /image: not a regular file: dir/],
      ...(fifo ? [['fifo.png', /image: not a regular file: fifo.png/]] : []),
      [outside, /image: path leaves the images folder$/],
    ] as Array<[string, RegExp]>) {
      const r = await score(image);
      expect([image, r.status, r.body.error]).toEqual([image, 400, expect.stringMatching(msg)]);
    }
    // A link that stays inside is fine; the judge gets the real path, and its error reaches the client without it.
    const r = await score('inside.png');
    expect(seen).toEqual([fs.realpathSync(path.join(images, 'ok.png'))]);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('the reward model failed: cannot read image ok.png: EIO');
  });

  it('internal errors answer 500 without details; the details go to the log', async () => {
    const lines: string[] = [];
    const labels = {
      size: 1,
      conflicts: 0,
      lookup: () => {
        throw new Error('boom at /srv/secret/labels.jsonl');
      },
    } as unknown as LabelIndex;
    await start({ labels, log: (l) => lines.push(l) });
    const r = await post(`${base}/get_reward`, { query: ['x'] });
    expect(r.status).toBe(500);
    expect(r.body.error).toBe('internal error (the service log has the details)');
    expect(lines.join('\n')).toMatch(/boom at \/srv\/secret/);
  });

  it('option checks name the option', () => {
    expect(() => createRewardServer({ bodyTimeoutMs: 0 })).toThrow(/bodyTimeoutMs must be a positive integer/);
    expect(() => createRewardServer({ headersTimeoutMs: 1.5 })).toThrow(/headersTimeoutMs must be a positive integer/);
  });
});

describe('getRewards without HTTP', () => {
  it('is the same function the service runs', async () => {
    const { RuleBasedJudge } = await import('../../lib/rewards');
    const r = await getRewards(
      { query: ['<think>Response 1 is better.</think><answer>1</answer>'], labels: ['<answer>1</answer>'] },
      { judge: new RuleBasedJudge() },
    );
    expect(r.rewards).toEqual([2]);
    await expect(getRewards({ query: ['x'] }, { judge: new RuleBasedJudge() })).rejects.toThrow(/labels\[0\]/);
  });
});
