import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main, mainUsage } from '../../lib/cli/main';
import { COMMANDS } from '../../lib/cli/commands';
import { ProgressBar, formatDuration } from '../../lib/cli/progress';
import type { CliIO } from '../../lib/cli/types';
import { startFakeOpenAI, promptText, type FakeServer } from './helpers/fake-openai';
import { parseR1Prompt, think } from './helpers/prompt-parse';
import { post } from '../serve/http-helpers';

const FIX = path.join(__dirname, '..', 'fixtures', 'benchmarks');
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-cli-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

function io(extra: Partial<CliIO> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIO = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY: false },
    env: {},
    ...extra,
  };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

describe('stable-reinforce dispatcher', () => {
  it('lists the registered commands', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(0);
    for (const c of COMMANDS) expect(t.out()).toContain(`${c.name}`);
    expect(t.out()).toContain('Usage: stable-reinforce <command>');
    expect(mainUsage()).toMatch(/eval .*benchmark/);
  });

  it('no command: usage and exit 2; unknown command: message and exit 2', async () => {
    const a = io();
    expect(await main([], a.io)).toBe(2);
    expect(a.out()).toContain('Commands:');
    const b = io();
    expect(await main(['trian'], b.io)).toBe(2);
    expect(b.err()).toContain('unknown command "trian"');
  });

  it('--version reads package.json', async () => {
    const t = io();
    expect(await main(['--version'], t.io)).toBe(0);
    expect(t.out().trim()).toBe(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
  });

  it('eval --help documents every flag', async () => {
    const t = io();
    expect(await main(['eval', '--help'], t.io)).toBe(0);
    for (const f of [
      '--bench',
      '--data',
      '--images',
      '--endpoint',
      '--model',
      '--samples',
      '--temperature',
      '--top-p',
      '--swap',
      '--concurrency',
      '--out',
      '--limit',
      '--skip-missing',
    ]) {
      expect(t.out()).toContain(f);
    }
    expect(t.out()).toMatch(/--model DIR +the built-in model/);
    const s = io();
    expect(await main(['help', 'serve'], s.io)).toBe(0);
    expect(s.out()).toContain('POST /get_reward');
  });

  it.each([
    [['eval'], /--bench is required/],
    [['eval', '--bench', 'nope', '--data', 'x', '--model', 'm'], /--bench must be one of/],
    [['eval', '--bench', 'synthetic', '--data', 'x'], /--model is required/],
    [['eval', '--bench', 'synthetic', '--data', 'x', '--model', 'm', '--samples', 'many'], /--samples must be an integer/],
    [['eval', '--bench', 'synthetic', '--data', 'x', '--model', 'm', '--temperature', '5'], /--temperature must be a number >= 0 and <= 2/],
    [['eval', '--bench', 'synthetic', '--data', 'x', '--model', 'm', '--top-p', '0'], /--top-p must be a number > 0 and <= 1, got "0"/],
    [['eval', '--bench', 'synthetic', '--data', 'x', '--model', 'm', '--top-p', '1.2'], /--top-p must be a number > 0 and <= 1, got "1.2"/],
    [['eval', '--bench', 'synthetic', '--data', 'x', '--model', 'm', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['serve', '--port', '99999'], /--port must be an integer from 0 to 65535/],
    [['serve', '--max-body', 'lots'], /--max-body must be a size/],
  ])('usage errors exit 2: %j', async (argv, msg) => {
    const t = io();
    expect(await main(argv, t.io)).toBe(2);
    expect(t.err()).toMatch(msg);
    expect(t.err()).toContain('--help');
  });

  it('--model DIR: clear errors for a missing or foreign folder', async () => {
    const t = io();
    const args = ['eval', '--bench', 'synthetic', '--data', path.join(FIX, 'synthetic.jsonl'), '--out', path.join(ROOT, 'x')];
    expect(await main([...args, '--model', path.join(ROOT, 'no-such-model')], t.io)).toBe(1);
    expect(t.err()).toMatch(/no such model directory.*--endpoint URL/);
    const u = io();
    expect(await main([...args, '--model', ROOT], u.io)).toBe(1);
    expect(u.err()).toMatch(/not a built-in model directory.*--endpoint URL/);
  });

  describe('with an endpoint', () => {
    let fake: FakeServer;
    beforeAll(async () => {
      fake = await startFakeOpenAI((b) => {
        const p = parseR1Prompt(promptText(b));
        const n = p.response1.length <= p.response2.length ? 1 : 2; // some deterministic opinion
        return { texts: Array.from({ length: b.n ?? 1 }, () => think(`Response ${n} is better.`, n)) };
      });
    });
    afterAll(() => fake.close());

    it('eval runs end to end: table on stdout, progress with ETA on stderr, files written', async () => {
      const t = io({ env: { MY_KEY: 'sk-test' } });
      const outDir = path.join(ROOT, 'run');
      const code = await main(
        [
          'eval',
          '--bench',
          'synthetic',
          '--data',
          path.join(FIX, 'synthetic.jsonl'),
          '--images',
          path.join(FIX, 'images'),
          '--endpoint',
          fake.url,
          '--model',
          'r1',
          '--samples',
          '2',
          '--top-p',
          '0.9',
          '--swap',
          '--out',
          outDir,
          '--api-key-env',
          'MY_KEY',
        ],
        t.io,
      );
      expect(t.err()).not.toMatch(/error/);
      expect(code).toBe(0);
      expect(t.out()).toMatch(/synthetic: 4 pairs, 8 evaluations, model r1, K=2, T=1, top-p 0.9\n/);
      expect(fake.requests.every((r) => r.top_p === 0.9)).toBe(true);
      expect(fs.readFileSync(path.join(outDir, 'report.html'), 'utf8')).toContain('2 / 1 / 0.9');
      expect(t.out()).toMatch(/Voting@k: 1:\d/);
      expect(t.out()).toMatch(/position consistency/);
      expect(t.err()).toMatch(/\[#+\] 8\/8 100\.0% .* ETA 0s/);
      for (const f of ['predictions.jsonl', 'summary.json', 'report.html', 'run.json']) expect(fs.existsSync(path.join(outDir, f))).toBe(true);
      const summary = JSON.parse(fs.readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
      expect(summary).toHaveProperty('positionConsistency');
      expect(summary.samples).toBe(2);
    });

    it('serve answers over HTTP and shuts down on SIGTERM', async () => {
      const signals = new EventEmitter();
      const t = io({ signals: signals as unknown as CliIO['signals'] });
      const running = main(['serve', '--port', '0', '--endpoint', fake.url, '--model', 'r1'], t.io);
      for (let i = 0; i < 100 && !t.out().includes('listening on'); i++) await new Promise((ok) => setTimeout(ok, 10));
      const url = /listening on (http:\/\/\S+)/.exec(t.out())![1];
      expect(t.out()).toContain('/score model: endpoint:r1@');
      const r = await post(`${url}/get_reward`, { query: ['<think>Response 1 is better.</think><answer>1</answer>'], labels: ['1'] });
      expect(r.body.rewards).toEqual([2]);
      const s = await post(`${url}/score`, { question: 'q', response1: 'a', response2: 'bb' });
      expect(s.body.verdict).toBe(1);
      signals.emit('SIGTERM');
      expect(await running).toBe(0);
      expect(t.out()).toContain('reward service stopped (1 rewards served)');
    });
  });
});

describe('progress bar', () => {
  it('non-TTY: rate-limited plain lines with rate and ETA, always a final line', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = new ProgressBar({ total: 100, label: 'x', stream: { write: (s) => lines.push(s), isTTY: false }, now: () => now });
    bar.start(20); // resumed: 20 done before
    expect(lines).toHaveLength(1);
    now = 1000;
    bar.update(30); // within 10 s: not drawn
    expect(lines).toHaveLength(1);
    now = 10000;
    bar.update(40); // 20 items in 10 s = 2/s, 60 left = 30 s
    expect(lines[1]).toMatch(/x \[#+-+\] 40\/100 40\.0% 2\.00\/s elapsed 10s ETA 30s\n/);
    bar.finish('done');
    expect(lines[2]).toMatch(/done\n$/);
  });

  it('TTY: redraws one line in place', () => {
    const chunks: string[] = [];
    let now = 0;
    const bar = new ProgressBar({ total: 4, stream: { write: (s) => chunks.push(s), isTTY: true, columns: 80 }, now: () => now });
    bar.start();
    for (let i = 1; i <= 4; i++) {
      now += 200;
      bar.tick();
    }
    bar.finish();
    expect(chunks.filter((c) => c.startsWith('\r')).length).toBeGreaterThanOrEqual(5);
    expect(chunks[chunks.length - 1]).toBe('\n');
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7300)).toBe('2h01m');
    expect(formatDuration(NaN)).toBe('?');
  });
});

describe('progress bar final line', () => {
  it('is not repeated when the last update already drew it', () => {
    const lines: string[] = [];
    let now = 0;
    const bar = new ProgressBar({ total: 2, stream: { write: (s) => lines.push(s), isTTY: false }, now: () => now });
    bar.start();
    now = 5;
    bar.update(2);
    bar.finish();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/2\/2 100\.0%/);
  });
});
