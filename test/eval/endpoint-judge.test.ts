import { getEventListeners } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { EndpointPairJudge, buildPrompt, listEndpointModels } from '../../lib/eval';
import { closedPort, startFakeOpenAI, type FakeServer } from './helpers/fake-openai';

const IMAGES = path.join(__dirname, '..', 'fixtures', 'benchmarks', 'images');
const pair = {
  question: 'What color?',
  response1: 'Red.',
  response2: 'Blue.',
  media: { kind: 'image' as const, path: path.join(IMAGES, 'general', 'red.png') },
};

describe('EndpointPairJudge', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('sends the R1-Reward prompt then the image as a base64 data URL, K samples with n', async () => {
    server = await startFakeOpenAI((b) => ({ texts: Array.from({ length: b.n ?? 1 }, (_, i) => `<think>t${i}</think><answer>1</answer>`) }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'r1-reward' });
    const out = await judge.judge(pair, { samples: 3, temperature: 1 });
    expect(out).toEqual(['<think>t0</think><answer>1</answer>', '<think>t1</think><answer>1</answer>', '<think>t2</think><answer>1</answer>']);
    expect(server.requests).toHaveLength(1);
    const body = server.requests[0];
    expect(body).toMatchObject({ model: 'r1-reward', n: 3, temperature: 1, max_tokens: 1024 });
    expect(body.top_p).toBeUndefined(); // the server's default unless asked
    const content = body.messages[0].content as Array<Record<string, any>>;
    expect(content[0]).toEqual({ type: 'text', text: buildPrompt('What color?', 'Red.', 'Blue.') });
    const b64 = fs.readFileSync(pair.media.path).toString('base64');
    expect(content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } });
  });

  it('sends top_p when asked for nucleus sampling', async () => {
    server = await startFakeOpenAI((b) => ({ texts: Array.from({ length: b.n ?? 1 }, () => '<answer>2</answer>') }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm' });
    expect(await judge.judge(pair, { samples: 2, temperature: 1, topP: 0.9 })).toHaveLength(2);
    expect(server.requests[0]).toMatchObject({ n: 2, temperature: 1, top_p: 0.9 });
  });

  it('a server that returns fewer choices is asked again for the rest; useN=false sends one per request', async () => {
    server = await startFakeOpenAI(() => ({ texts: ['<answer>2</answer>'] }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm' });
    expect(await judge.judge(pair, { samples: 3, temperature: 1 })).toHaveLength(3);
    expect(server.requests.map((r) => r.n)).toEqual([3, 2, undefined]);
    const one = new EndpointPairJudge({ baseURL: server.url, model: 'm', useN: false });
    expect(await one.judge(pair, { samples: 2, temperature: 0 })).toHaveLength(2);
    expect(server.requests.slice(3).map((r) => r.n)).toEqual([undefined, undefined]);
  });

  it('videos go as video_url; a null message content is kept as ""', async () => {
    server = await startFakeOpenAI(() => ({
      status: 200,
      body: {
        id: 'x',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'length' }],
      },
    }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm' });
    const out = await judge.judge({ ...pair, media: { kind: 'video', path: path.join(IMAGES, 'video', 'v1.mp4') } }, { samples: 1, temperature: 0 });
    expect(out).toEqual(['']);
    const content = server.requests[0].messages[0].content as Array<Record<string, any>>;
    expect(content[1].type).toBe('video_url');
    expect(content[1].video_url.url).toMatch(/^data:video\/mp4;base64,/);
  });

  it('retries injected 500, 429 and a timeout, then succeeds', async () => {
    const script = [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { hang: true as const }, { texts: ['<answer>1</answer>'] }];
    server = await startFakeOpenAI((_b, i) => script[i]);
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm', timeoutMs: 250, retryBaseDelayMs: 5 });
    expect(await judge.judge(pair, { samples: 1, temperature: 0 })).toEqual(['<answer>1</answer>']);
    expect(judge.stats).toEqual({ requests: 4, retries: 3, failures: 0 });
  });

  it('gives up after maxRetries with the last status', async () => {
    server = await startFakeOpenAI(() => ({ status: 500 }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm', maxRetries: 2, retryBaseDelayMs: 1 });
    await expect(judge.judge(pair, { samples: 1, temperature: 0 })).rejects.toThrow(/HTTP 500.*3 attempts/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 4xx', async () => {
    server = await startFakeOpenAI(() => ({ status: 404, body: { error: { message: 'model not found' } } }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm', retryBaseDelayMs: 1 });
    await expect(judge.judge(pair, { samples: 1, temperature: 0 })).rejects.toThrow(/HTTP 404.*model not found/);
    expect(server.requests).toHaveLength(1);
  });

  it('an unreachable endpoint ends with a clear error', async () => {
    const port = await closedPort();
    const judge = new EndpointPairJudge({ baseURL: `http://127.0.0.1:${port}`, model: 'm', maxRetries: 2, retryBaseDelayMs: 1 });
    await expect(judge.judge(pair, { samples: 1, temperature: 0 })).rejects.toThrow(
      new RegExp(`endpoint http://127\\.0\\.0\\.1:${port}/v1 is unreachable \\(.*ECONNREFUSED.*; 3 attempts\\)`),
    );
  });

  it('bounds concurrent requests', async () => {
    let now = 0;
    let peak = 0;
    server = await startFakeOpenAI(async () => {
      peak = Math.max(peak, ++now);
      await new Promise((ok) => setTimeout(ok, 40));
      now--;
      return { texts: ['<answer>1</answer>'] };
    });
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm', concurrency: 2 });
    await Promise.all(Array.from({ length: 8 }, () => judge.judge(pair, { samples: 1, temperature: 0 })));
    expect(server.requests).toHaveLength(8);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('a shared abort signal collects no listeners over many requests, and aborts the one in flight', async () => {
    server = await startFakeOpenAI((_b, i) => (i < 20 ? { texts: ['<answer>1</answer>'] } : { hang: true }));
    const judge = new EndpointPairJudge({ baseURL: server.url, model: 'm' });
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await judge.judge(pair, { samples: 1, temperature: 0, signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const hanging = judge.judge(pair, { samples: 1, temperature: 0, signal: ac.signal });
    while (server.requests.length < 21) await new Promise((ok) => setTimeout(ok, 5));
    ac.abort(new Error('stop'));
    await expect(hanging).rejects.toThrow(/request to endpoint .* was aborted/);
    expect(server.requests).toHaveLength(21); // an abort is not retried
  });

  it('validates its arguments', async () => {
    expect(() => new EndpointPairJudge({ baseURL: 'localhost:8000', model: 'm' })).toThrow(/endpoint/);
    expect(() => new EndpointPairJudge({ baseURL: 'http://x', model: '' })).toThrow(/model/);
    const judge = new EndpointPairJudge({ baseURL: 'http://x', model: 'm' });
    await expect(judge.judge(pair, { samples: 0, temperature: 0 })).rejects.toThrow(/samples/);
    await expect(judge.judge(pair, { samples: 1, temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(judge.judge(pair, { samples: 1, temperature: 1, topP: 0 })).rejects.toThrow(/topP must be in \(0, 1\], got 0/);
    await expect(judge.judge(pair, { samples: 1, temperature: 1, topP: '0.9' as never })).rejects.toThrow(TypeError);
  });

  it('lists models', async () => {
    server = await startFakeOpenAI(() => ({ texts: [] }), ['a', 'b']);
    expect(await listEndpointModels({ baseURL: server.url.replace(/\/v1$/, '') })).toEqual(['a', 'b']);
  });
});
