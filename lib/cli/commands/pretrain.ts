/**
 * `stable-reinforce pretrain`: pretrains the built-in backbone (lib/train/pretrain) and exports it
 * (`--export DIR`: bf16 safetensors, tokenizer, model card). Registered in ./index.ts.
 */
import * as path from 'path';
import { exportBackbone } from '../../train/pretrain/export';
import { PRETRAIN_DEFAULTS, pretrain } from '../../train/pretrain/pretrain';
import { UsageError, parseFlags, str } from '../args';
import type { CliIO } from '../types';

export const usage = `Usage: stable-reinforce pretrain [--out DIR] [--resume] [--steps N] [--seed S] [--total-steps N] [--init DIR] [--lr X]
       stable-reinforce pretrain --out DIR --export BACKBONE_DIR

Pretrains the built-in backbone on freshly drawn tasks (captions, recall of a cell by its name,
the cells a question needs, short VQA, checking two responses against the facts); skill probes every
${PRETRAIN_DEFAULTS.probeEvery} steps in DIR/skills.jsonl, a checkpoint every ${PRETRAIN_DEFAULTS.checkpointEvery} steps.
  --out DIR          run folder (default runs/pretrain)
  --resume           continue the run in DIR from its checkpoint (a new run when DIR is empty)
  --steps N          stop after N steps of this call (default: run to the end of the schedule)
  --total-steps N    a new run's schedule length (default ${PRETRAIN_DEFAULTS.steps})
  --seed S           a new run's seed (default ${PRETRAIN_DEFAULTS.seed})
  --init DIR         a new run starts from this model folder (a run's checkpoint/model or an exported
                     backbone: weights, tokenizer, pixel statistics) instead of random weights
  --lr X             a new run's peak learning rate (default ${PRETRAIN_DEFAULTS.lr}; warm-up, then cosine)
  --export DIR       write DIR/model.safetensors (bf16), config.json, tokenizer.json, card.md and
                     skills.json from the run's checkpoint, and print the weights' sha256
Ctrl-C stops after the current step with a checkpoint.
`;

/** A flag's positive decimal number (e.g. 0.001 or 1e-3), or undefined when the flag is absent. */
function positiveFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+(\.\d+)?(e-?\d{1,3})?$/i.test(v) ? Number(v) : NaN;
  if (!(n > 0 && n < 1)) throw new UsageError(`--${name} must be a decimal number above 0 and below 1, got ${JSON.stringify(v)}`);
  return n;
}

/** A flag's decimal integer (at least `min`, at most 2^31 - 1), or undefined when the flag is absent. */
function intFlag(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= 2 ** 31 - 1)) throw new UsageError(`--${name} must be an integer from ${min} to ${2 ** 31 - 1}, got ${JSON.stringify(v)}`);
  return n;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, {
    out: { type: 'string' },
    resume: { type: 'boolean' },
    steps: { type: 'string' },
    'total-steps': { type: 'string' },
    seed: { type: 'string' },
    export: { type: 'string' },
    init: { type: 'string' },
    lr: { type: 'string' },
  });
  const out = path.resolve(str(flags, 'out') ?? path.join('runs', 'pretrain'));
  const exportDir = str(flags, 'export');
  if (exportDir !== undefined) {
    const r = await exportBackbone(out, path.resolve(exportDir));
    io.stdout.write(`wrote ${r.dir} (step ${r.step}); model.safetensors sha256 ${r.sha256}\n`);
    return 0;
  }
  const stopAfter = intFlag(str(flags, 'steps'), 'steps', 1);
  const steps = intFlag(str(flags, 'total-steps'), 'total-steps', 1);
  const seed = intFlag(str(flags, 'seed'), 'seed', 0);
  const lr = positiveFlag(str(flags, 'lr'), 'lr');
  const init = str(flags, 'init');
  let stop = false;
  const onSignal = () => {
    stop = true;
    io.stderr.write('\nstopping after this step (a checkpoint is written) ...\n');
  };
  const signals = io.signals ?? process;
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  try {
    const r = await pretrain({
      out,
      resume: flags.resume === true,
      stopAfter,
      config: {
        ...(steps !== undefined ? { steps } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(lr !== undefined ? { lr } : {}),
        ...(init !== undefined ? { init: path.resolve(init) } : {}),
      },
      log: (m) => io.stderr.write(m + '\n'),
      shouldStop: () => stop,
    });
    io.stdout.write(`pretrain: step ${r.state.step}, ${Math.round(r.state.seconds)} s in all; checkpoint in ${path.join(r.out, 'checkpoint')}\n`);
    return stop ? 130 : 0;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}
