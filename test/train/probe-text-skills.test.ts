// The research probe script (scripts/probe-text-skills.ts) runs, learns, and rejects bad arguments by name.
import { spawnSync } from 'child_process';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', '..', 'dist', 'scripts', 'probe-text-skills.js');

function probe(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...(args.includes('--preset') ? [] : ['--preset', 'smoke']), ...args], { encoding: 'utf8', timeout: 120_000 });
  const lines =
    r.stdout.trim() === ''
      ? []
      : r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, number | string>);
  return { status: r.status, stderr: r.stderr, header: lines[0], evals: lines.slice(1) };
}

describe('probe-text-skills script', () => {
  test('recall: the loss falls and the share of lines right is a share', () => {
    const r = probe('--skill', 'recall', '--steps', '40', '--eval-every', '20', '--eval-n', '4', '--lr', '3e-3');
    expect(r.status).toBe(0);
    expect(r.header).toMatchObject({ skill: 'recall', preset: 'smoke', steps: 40 });
    expect(r.evals.map((e) => e.step)).toEqual([20, 40]);
    expect(r.evals[1].loss).toBeLessThan(r.evals[0].loss as number);
    for (const e of r.evals) {
      expect(e.linesRight).toBeGreaterThanOrEqual(0);
      expect(e.linesRight).toBeLessThanOrEqual(1);
    }
  });

  test('verdict: accuracy over the asked number of test rows', () => {
    const r = probe('--skill', 'verdict', '--steps', '3', '--eval-n', '5');
    expect(r.status).toBe(0);
    expect(r.evals).toHaveLength(1);
    expect(r.evals[0]).toMatchObject({ step: 3, n: 5 });
    expect(r.evals[0].accuracy).toBeGreaterThanOrEqual(0);
    expect(r.evals[0].accuracy).toBeLessThanOrEqual(1);
  });

  test.each([
    [['--skill', 'caption'], /--skill must be recall or verdict/],
    [['--skill', 'recall', '--steps', '0'], /--steps must be a positive integer/],
    [['--skill', 'recall', '--lr', 'fast'], /--lr must be a positive number/],
    [['--skill', 'recall', '--preset', 'huge'], /unknown preset "huge"/],
  ])('%j is refused with an error naming the argument', (args, message) => {
    const r = probe(...args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });
});
