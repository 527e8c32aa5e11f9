import { computeReward, createRewardStats, OpenAIConsistencyJudge, parseJudgeReply, consistencyJudgePrompt } from '../../lib/rewards';
import { closedPort, promptText, startFakeOpenAI, type FakeServer } from '../eval/helpers/fake-openai';

describe('OpenAI-compatible consistency judge', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('parses replies', () => {
    expect(parseJudgeReply('1')).toBe(1);
    expect(parseJudgeReply(' 0\n')).toBe(-1);
    expect(parseJudgeReply('**1**')).toBe(1);
    expect(parseJudgeReply('The answer is 1')).toBe(1);
    expect(parseJudgeReply('1 or 0')).toBeNull();
    expect(parseJudgeReply('yes')).toBeNull();
    expect(parseJudgeReply('10')).toBeNull();
  });

  it("sends the paper's prompt (last 3 lines, answer rephrased) at temperature 0.1", async () => {
    server = await startFakeOpenAI(() => ({ texts: ['1'] }));
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'judge-7b' });
    const analysis = 'line a\nline b\nline c\nline d\nResponse 2 is better.';
    await expect(judge.judge({ analysis, verdict: 2 })).resolves.toBe(1);
    const body = server.requests[0];
    expect(body.model).toBe('judge-7b');
    expect(body.temperature).toBeCloseTo(0.1);
    const text = promptText(body);
    expect(text).toContain('line c\nline d\nResponse 2 is better.');
    expect(text).not.toContain('line b');
    expect(text).toContain('Response 2 is better');
    expect(text).toBe(consistencyJudgePrompt('line c\nline d\nResponse 2 is better.', 2));
  });

  it('0 means inconsistent (-1)', async () => {
    server = await startFakeOpenAI(() => ({ texts: ['0'] }));
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm' });
    await expect(judge.judge({ analysis: 'Response 1 is better.', verdict: 2 })).resolves.toBe(-1);
  });

  it('retries 500, 429 and timeouts with backoff, then succeeds', async () => {
    const script = [{ status: 500 }, { status: 429, headers: { 'retry-after-ms': '20' } }, { hang: true as const }, { texts: ['1'] }];
    server = await startFakeOpenAI((_b, i) => script[i]);
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm', timeoutMs: 300, retryBaseDelayMs: 10 });
    await expect(judge.judge({ analysis: 'Response 2 is better.', verdict: 2 })).resolves.toBe(1);
    expect(server.requests.length).toBe(4);
    expect(judge.stats).toMatchObject({ requests: 4, retries: 3, failures: 0 });
  });

  it('does not retry a 400 and gives a clear error', async () => {
    server = await startFakeOpenAI(() => ({ status: 400, body: { error: { message: 'bad model' } } }));
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm', retryBaseDelayMs: 1 });
    await expect(judge.judge({ analysis: 'x', verdict: 1 })).rejects.toThrow(/HTTP 400.*bad model.*1 attempt/);
    expect(server.requests.length).toBe(1);
  });

  it('caches by content and shares identical in-flight requests', async () => {
    server = await startFakeOpenAI(() => ({ texts: ['1'], delayMs: 30 }));
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm' });
    const input = { analysis: 'Response 1 is better.', verdict: 1 as const };
    const all = await Promise.all([judge.judge(input), judge.judge(input), judge.judge(input)]);
    expect(all).toEqual([1, 1, 1]);
    await judge.judge(input);
    await judge.judge({ ...input, verdict: 2 });
    expect(server.requests.length).toBe(2);
    expect(judge.stats.cacheHits).toBe(3);
  });

  it('bounds concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    server = await startFakeOpenAI(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((ok) => setTimeout(ok, 40));
      inFlight--;
      return { texts: ['1'] };
    });
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm', concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => judge.judge({ analysis: `Response 1 is better ${i}.`, verdict: 1 })));
    expect(server.requests.length).toBe(12);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('an unusable reply or a dead judge is a counted failure inside computeReward, never a crash', async () => {
    server = await startFakeOpenAI(() => ({ texts: ['maybe'] }));
    const stats = createRewardStats();
    const judge = new OpenAIConsistencyJudge({ baseURL: server.url, model: 'm' });
    const r = await computeReward('<think>Response 2 is better.</think><answer>2</answer>', 2, judge, { stats });
    expect(r).toMatchObject({ consistency: 0, reward: 1.5 });
    expect(stats.judgeFailures).toBe(1);
    expect(judge.stats.unparsable).toBe(1);

    const dead = new OpenAIConsistencyJudge({ baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: 'm', maxRetries: 1, retryBaseDelayMs: 1 });
    const r2 = await computeReward('<think>Response 2 is better.</think><answer>2</answer>', 2, dead, { stats });
    expect(r2.consistency).toBe(0);
    expect(r2.judgeError).toMatch(/unreachable.*ECONNREFUSED.*2 attempts/);
    expect(stats.judgeFailures).toBe(2);
  });

  it('validates options naming the field', () => {
    expect(() => new OpenAIConsistencyJudge({ baseURL: 'ftp://x', model: 'm' })).toThrow(/judge baseURL/);
    expect(() => new OpenAIConsistencyJudge({ baseURL: 'http://x', model: '' })).toThrow(/judge model/);
    expect(() => new OpenAIConsistencyJudge({ baseURL: 'http://x', model: 'm', concurrency: 0 })).toThrow(/concurrency/);
  });
});
