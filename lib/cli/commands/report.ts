/**
 * `stable-reinforce report --runs DIR1[,DIR2,...] [--out FILE] [--png DIR | --no-png]`: the training report of
 * one run, or several overlaid (ablations, seeds). Registered in ./index.ts.
 */
import * as path from 'path';
import { writeReport } from '../../report/report';
import { UsageError, parseFlags, requireStr, str } from '../args';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce report --runs DIR1[,DIR2,...] [--out FILE] [--png DIR | --no-png]

Writes a self-contained HTML report (inline SVG plots: reward, accuracy, length, loss with the
stage boundary, Voting@K, ablation overlays when several runs are given) and PNG copies of the plots.
  --runs     training run folders (written by stable-reinforce train), comma-separated
  --out      HTML file (default: DIR/report.html for one run, ./report.html for several)
  --png      folder for the PNG plots (default: next to the HTML file, in plots/)
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, { runs: { type: 'string' }, out: { type: 'string' }, png: { type: 'string' }, 'no-png': { type: 'boolean' } });
  const dirs = requireStr(flags, 'runs', 'comma-separated run folders')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (dirs.length === 0) throw new UsageError('--runs needs at least one folder');
  const out = path.resolve(str(flags, 'out') ?? (dirs.length === 1 ? path.join(dirs[0], 'report.html') : 'report.html'));
  const png = flags['no-png'] ? null : path.resolve(str(flags, 'png') ?? path.join(path.dirname(out), 'plots'));
  const files = await writeReport(dirs, { out, png });
  io.stdout.write(`wrote ${files.join(', ')}\n`);
  return 0;
}
