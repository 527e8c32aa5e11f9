/**
 * `stable-reinforce data <synth|verify|to-r1|from-r1> [options]`
 *
 *   synth   --out DIR --n N --seed S [--levels 1-4] [--test-fraction 0.2] [--image-size 48] [--grid 3]
 *           [--kinds circle,square,...] [--colours red,green,...] [--categories count,...]
 *           [--preview K] [--preview-size 240] [--quiet]
 *   verify  --dir DIR [--split train|test|all]          recompute every label from its scene, check images
 *   to-r1   --dir DIR --split S --out FILE [--absolute]  export rows in R1-Reward's RL data format
 *   from-r1 --in FILE --out DIR [--split train]         import R1-Reward rows as DIR/<split>.jsonl
 *
 * Exit codes (through lib/cli/main.ts): 0 ok, 1 failed (verification or I/O), 2 bad command line.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { readJsonl, readRows, splitFile, writeRows } from '../../data/io';
import { readR1Jsonl, writeR1Jsonl } from '../../data/r1-format';
import { decodeImage } from '../../data/render';
import { SynthOptions, resolveSynthOptions, writeSynthetic } from '../../data/synth';
import type { Scene } from '../../data/scene';
import { imageMismatch, verifySyntheticRow } from '../../data/verify';
import { Flags, UsageError, intFlag, numFlag, parseFlags, requireStr, str } from '../args';
import { ProgressBar } from '../progress';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce data <subcommand> [flags]

  synth    --out DIR --n N --seed S [--levels 1-4] [--test-fraction 0.2] [--image-size 48]
           [--grid 3] [--kinds circle,square,triangle,cross] [--colours red,green,blue,yellow,purple]
           [--categories count,attribute,existence,comparison,relation]
           [--preview K] [--preview-size 240] [--quiet]
           Draw the built-in synthetic preference data: DIR/train.jsonl, DIR/test.jsonl,
           DIR/images/*.png, DIR/meta.json (and K larger images in DIR/preview/ for people).
           Same flags, same bytes. Levels 0-4 (0: one shape; default 1-4). Other kinds: diamond;
           other colours: cyan, white.
  verify   --dir DIR [--split train|test|all]
           Recompute every label, response check and teacher text from the stored scene; check images.
  to-r1    --dir DIR --split train --out FILE [--absolute]
           Write rows in R1-Reward's RL data format (--absolute: image paths joined to DIR).
  from-r1  --in FILE --out DIR [--split train]
           Read R1-Reward RL data into DIR/<split>.jsonl (image paths kept as the file has them).
`;

function listFlag(flags: Flags, name: string): string[] | undefined {
  const v = str(flags, name);
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

/** "1-4", "0-4", "2", "1,3", "1-2,4" -> sorted distinct levels. */
export function parseLevels(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--levels must look like 1-4 or 1,3, got ${JSON.stringify(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi > 4 || lo > hi) throw new UsageError(`--levels must be within 0-4, got ${JSON.stringify(text)}`);
    for (let l = lo; l <= hi; l++) out.add(l);
  }
  return [...out].sort((a, b) => a - b);
}

async function synth(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, {
    out: { type: 'string' },
    n: { type: 'string' },
    seed: { type: 'string' },
    levels: { type: 'string' },
    'test-fraction': { type: 'string' },
    'image-size': { type: 'string' },
    grid: { type: 'string' },
    kinds: { type: 'string' },
    colours: { type: 'string' },
    categories: { type: 'string' },
    preview: { type: 'string' },
    'preview-size': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  const out = requireStr(flags, 'out');
  const n = intFlag(flags, 'n');
  const seed = intFlag(flags, 'seed', { min: 0 });
  if (n === undefined) throw new UsageError('--n is required');
  if (seed === undefined) throw new UsageError('--seed is required');
  const levels = str(flags, 'levels');
  const options: SynthOptions = {
    n,
    seed,
    levels: levels === undefined ? undefined : parseLevels(levels),
    testFraction: numFlag(flags, 'test-fraction', { min: 0, max: 0.99 }),
    imageSize: intFlag(flags, 'image-size'),
    grid: intFlag(flags, 'grid'),
    kinds: listFlag(flags, 'kinds') as SynthOptions['kinds'],
    colours: listFlag(flags, 'colours') as SynthOptions['colours'],
    categories: listFlag(flags, 'categories') as SynthOptions['categories'],
  };
  try {
    resolveSynthOptions(options);
  } catch (e) {
    throw new UsageError((e as Error).message); // the message names the option
  }
  const quiet = flags.quiet === true;
  const bar = quiet ? null : new ProgressBar({ total: n, label: 'images', stream: io.stderr });
  bar?.start(0, n);
  const summary = await writeSynthetic(out, options, {
    preview: intFlag(flags, 'preview', { min: 0 }),
    previewSize: intFlag(flags, 'preview-size', { min: 8, max: 4096 }),
    onProgress: (done) => bar?.update(done),
  });
  bar?.finish();
  if (!quiet) {
    const lv = Object.entries(summary.byLevel)
      .map(([k, v]) => `L${k} ${v}`)
      .join(', ');
    const cat = Object.entries(summary.byCategory)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    io.stdout.write(
      `wrote ${summary.counts.train} train + ${summary.counts.test} test samples to ${out}\n` +
        `  answer positions: train 1:${summary.labels.train[1]} 2:${summary.labels.train[2]}, test 1:${summary.labels.test[1]} 2:${summary.labels.test[2]}\n` +
        `  levels: ${lv}\n  categories: ${cat}\n`,
    );
  }
  return 0;
}

async function verify(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, { dir: { type: 'string' }, split: { type: 'string' } });
  const dir = requireStr(flags, 'dir');
  const which = str(flags, 'split') ?? 'all';
  const splits = which === 'all' ? ['train', 'test'] : [which];
  let meta: { options?: { imageSize?: number } } = {};
  try {
    meta = JSON.parse(await fsp.readFile(path.join(dir, 'meta.json'), 'utf8'));
  } catch {
    // meta.json is optional: images are then only checked to decode.
  }
  const size = meta.options?.imageSize;
  let failures = 0;
  let total = 0;
  for (const split of splits) {
    const rows = await readJsonl(splitFile(dir, split));
    for (let i = 0; i < rows.length; i++) {
      total++;
      const where = `${split}.jsonl row ${i + 1}`;
      const v = verifySyntheticRow(rows[i], where);
      let problem = v.ok ? undefined : v.reason;
      if (!problem) {
        const image = path.resolve(dir, (rows[i] as { image: string }).image);
        try {
          const img = await decodeImage(await fsp.readFile(image));
          if (size !== undefined && (img.width !== size || img.height !== size))
            problem = `${where}: image is ${img.width}x${img.height}, meta.json says ${size}x${size}`;
          else {
            const bad = imageMismatch((rows[i] as { scene: Scene }).scene, img);
            if (bad) problem = `${where}: image ${image}: ${bad}`;
          }
        } catch (e) {
          problem = `${where}: image ${image} cannot be read (${(e as Error).message})`;
        }
      }
      if (problem) {
        failures++;
        if (failures <= 20) io.stderr.write(problem + '\n');
      }
    }
  }
  io.stdout.write(`${total - failures}/${total} rows verified${failures ? `, ${failures} failed` : ''}\n`);
  return failures === 0 ? 0 : 1;
}

async function toR1(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, { dir: { type: 'string' }, split: { type: 'string' }, out: { type: 'string' }, absolute: { type: 'boolean' } });
  const dir = requireStr(flags, 'dir');
  const split = requireStr(flags, 'split');
  const out = requireStr(flags, 'out');
  const rows = await readRows(dir, split);
  await writeR1Jsonl(out, rows, flags.absolute ? { imageRoot: path.resolve(dir) } : {});
  io.stdout.write(`wrote ${rows.length} rows in R1-Reward format to ${out}\n`);
  return 0;
}

async function fromR1(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, { in: { type: 'string' }, out: { type: 'string' }, split: { type: 'string' } });
  const input = requireStr(flags, 'in');
  const dir = requireStr(flags, 'out');
  const split = str(flags, 'split') ?? 'train';
  if (!/^[\w.-]+$/.test(split)) throw new UsageError(`--split must be a plain name, got ${JSON.stringify(split)}`);
  const rows = await readR1Jsonl(input);
  await writeRows(dir, split, rows);
  io.stdout.write(`wrote ${rows.length} rows to ${splitFile(dir, split)}\n`);
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = {
  synth,
  verify,
  'to-r1': toR1,
  'from-r1': fromR1,
};

/** argv: the words after `data`. Bad command lines throw UsageError (the dispatcher prints it, exit 2). */
export async function run(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError('a subcommand is required: synth, verify, to-r1 or from-r1');
  const fn = SUBCOMMANDS[sub];
  if (!fn) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)} (synth, verify, to-r1, from-r1)`);
  return fn(rest, io);
}
