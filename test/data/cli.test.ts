import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run as runData } from '../../lib/cli/commands/data';
import { main } from '../../lib/cli/main';
import { readRows } from '../../lib/data/io';
import { decodeImage } from '../../lib/data/render';
import { imageMismatch, verifySyntheticRow } from '../../lib/data/verify';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env: {} },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

async function dirHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const name of (await fsp.readdir(d)).sort()) {
      const p = path.join(d, name);
      if ((await fsp.stat(p)).isDirectory()) await walk(p);
      else h.update(path.relative(dir, p)).update(await fsp.readFile(p));
    }
  };
  await walk(dir);
  return h.digest('hex');
}

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sr-data-cli-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const SYNTH = ['--n', '24', '--seed', '7', '--levels', '1-4', '--test-fraction', '0.25', '--image-size', '32'];

describe('stable-reinforce data', () => {
  test('synth writes the splits, images of the requested size that show the scene, meta and previews', async () => {
    const dir = path.join(tmp, 'a');
    const c = capture();
    expect(await main(['data', 'synth', '--out', dir, ...SYNTH, '--preview', '2'], c.io)).toBe(0);
    expect(c.out()).toMatch(/wrote 18 train \+ 6 test samples/);
    expect(c.err()).toMatch(/images .*24\/24/);
    const train = await readRows(dir, 'train');
    const test = await readRows(dir, 'test');
    expect(train).toHaveLength(18);
    expect(test).toHaveLength(6);
    expect(train.filter((r) => r.label === 1)).toHaveLength(9);
    expect(test.filter((r) => r.label === 1)).toHaveLength(3);
    for (const r of [...train, ...test]) {
      expect(verifySyntheticRow(r).ok).toBe(true);
      const img = await decodeImage(await fsp.readFile(path.join(dir, r.image)));
      expect([img.width, img.height]).toEqual([32, 32]);
      expect(imageMismatch(r.scene!, img)).toBeUndefined();
    }
    expect(await fsp.readdir(path.join(dir, 'images'))).toHaveLength(24);
    const previews = await fsp.readdir(path.join(dir, 'preview'));
    expect(previews).toEqual([`${train[0].id}.png`, `${train[1].id}.png`]);
    expect((await decodeImage(await fsp.readFile(path.join(dir, 'preview', previews[0])))).width).toBe(240);
    const meta = JSON.parse(await fsp.readFile(path.join(dir, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({
      format: 'stable-reinforce-synthetic',
      options: { n: 24, seed: 7, imageSize: 32, levels: [1, 2, 3, 4] },
      counts: { train: 18, test: 6 },
    });
  });

  test('same flags, same bytes; another seed, other bytes', async () => {
    const [a, b, c] = ['d1', 'd2', 'd3'].map((d) => path.join(tmp, d));
    expect(await runData(['synth', '--out', a, ...SYNTH, '--quiet'], capture().io)).toBe(0);
    expect(await runData(['synth', '--out', b, ...SYNTH, '--quiet'], capture().io)).toBe(0);
    expect(await runData(['synth', '--out', c, ...SYNTH.map((x) => (x === '7' ? '8' : x)), '--quiet'], capture().io)).toBe(0);
    expect(await dirHash(a)).toBe(await dirHash(b));
    expect(await dirHash(a)).not.toBe(await dirHash(c));
  });

  test('verify passes a fresh dataset and catches a flipped label and a swapped image', async () => {
    const dir = path.join(tmp, 'v');
    expect(await runData(['synth', '--out', dir, ...SYNTH, '--quiet'], capture().io)).toBe(0);
    let c = capture();
    expect(await main(['data', 'verify', '--dir', dir], c.io)).toBe(0);
    expect(c.out()).toMatch(/24\/24 rows verified/);

    const file = path.join(dir, 'test.jsonl');
    const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n');
    const row = JSON.parse(lines[1]);
    row.label = 3 - row.label;
    lines[1] = JSON.stringify(row);
    await fsp.writeFile(file, lines.join('\n') + '\n');
    c = capture();
    expect(await runData(['verify', '--dir', dir, '--split', 'test'], c.io)).toBe(1);
    expect(c.err()).toMatch(/test\.jsonl row 2: label is/);

    const train = await readRows(dir, 'train');
    await fsp.copyFile(path.join(dir, train[1].image), path.join(dir, train[0].image));
    c = capture();
    expect(await runData(['verify', '--dir', dir, '--split', 'train'], c.io)).toBe(1);
    expect(c.err()).toMatch(/train\.jsonl row 1: image .* centre is/);
  });

  test('--levels 0-4 draws level 0 (one shape) with the others, and verify passes it', async () => {
    const dir = path.join(tmp, 'l0');
    const c = capture();
    expect(
      await main(['data', 'synth', '--out', dir, '--n', '20', '--seed', '3', '--levels', '0-4', '--test-fraction', '0.5', '--image-size', '32'], c.io),
    ).toBe(0);
    expect(c.out()).toMatch(/levels: L0 4, L1 4, L2 4, L3 4, L4 4\n/);
    const rows = [...(await readRows(dir, 'train')), ...(await readRows(dir, 'test'))];
    expect(rows.filter((r) => r.difficulty === 0).map((r) => r.scene!.objects.length)).toEqual([1, 1, 1, 1]);
    const v = capture();
    expect(await main(['data', 'verify', '--dir', dir], v.io)).toBe(0);
    expect(v.out()).toMatch(/20\/20 rows verified/);
    expect(JSON.parse(await fsp.readFile(path.join(dir, 'meta.json'), 'utf8')).options.levels).toEqual([0, 1, 2, 3, 4]);
  });

  test('to-r1 and from-r1 round trip the rows', async () => {
    const dir = path.join(tmp, 'r');
    expect(await runData(['synth', '--out', dir, ...SYNTH, '--quiet'], capture().io)).toBe(0);
    const r1 = path.join(tmp, 'r1', 'train.r1.jsonl');
    let c = capture();
    expect(await runData(['to-r1', '--dir', dir, '--split', 'train', '--out', r1, '--absolute'], c.io)).toBe(0);
    expect(c.out()).toMatch(/wrote 18 rows in R1-Reward format/);
    const first = JSON.parse((await fsp.readFile(r1, 'utf8')).split('\n')[0]);
    expect(Object.keys(first)).toEqual(['message', 'question', 'answer']);
    const back = path.join(tmp, 'back');
    c = capture();
    expect(await runData(['from-r1', '--in', r1, '--out', back, '--split', 'imported'], c.io)).toBe(0);
    const orig = await readRows(dir, 'train');
    const imported = await readRows(back, 'imported');
    expect(imported.map((r) => [path.resolve(back, r.image), r.question, r.response1, r.response2, r.label])).toEqual(
      orig.map((r) => [path.resolve(dir, r.image), r.question, r.response1, r.response2, r.label]),
    );
  });

  test.each([
    [['synth', '--n', '4', '--seed', '1'], /--out is required/],
    [['synth', '--out', 'x', '--seed', '1'], /--n is required/],
    [['synth', '--out', 'x', '--n', '4', '--seed', '1', '--levels', '0-9'], /--levels must be within 0-4/],
    [['synth', '--out', 'x', '--n', '4', '--seed', '1', '--levels', '0', '--categories', 'count'], /categories: level 0 asks only attribute, existence/],
    [['synth', '--out', 'x', '--n', '4', '--seed', '1', '--kinds', 'circle,star'], /kinds: "star"/],
    [['synth', '--out', 'x', '--n', '4', '--seed', '1', '--test-fraction', '1.5'], /--test-fraction/],
    [['synth', '--out', 'x', '--n', '4', '--seed', '1', '--bogus'], /bogus/],
    [['frobnicate'], /unknown subcommand "frobnicate"/],
    [[], /subcommand is required/],
  ])('bad command line %j exits 2 naming the problem', async (argv, message) => {
    const c = capture();
    expect(await main(['data', ...argv], c.io)).toBe(2);
    expect(c.err()).toMatch(message);
  });

  test('--help prints the usage', async () => {
    const c = capture();
    expect(await main(['data', '--help'], c.io)).toBe(0);
    expect(c.out()).toMatch(/stable-reinforce data <subcommand>/);
  });
});
