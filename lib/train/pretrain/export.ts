/**
 * The shipped backbone from a pretraining run's checkpoint: model.safetensors in bf16 (half the bytes; the
 * built-in model computes in f32 after loading), config.json, tokenizer.json, skills.json (the probe figures
 * along the run) and card.md (what it was trained on, how long, on what, and its skill figures).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sha256File } from '../../model/backbone';
import { PolicyModel } from '../../model/policy-model';
import { readJson } from '../checkpoint';
import type { InitRecord, PretrainConfig, PretrainState, SkillFigures } from './pretrain';
import { PRETRAIN_TASKS, TASK_MIX } from './tasks';

export interface ExportResult {
  dir: string;
  step: number;
  sha256: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A run's folder name from its checkpoint's model folder (RUN/checkpoint/model), or the folder's own name. */
const runName = (dir: string): string =>
  path.basename(dir) === 'model' && path.basename(path.dirname(dir)) === 'checkpoint' ? path.basename(path.dirname(path.dirname(dir))) : path.basename(dir);

/** The card's list of the runs a continued run started from, earliest first (one indented item each). */
function lineage(init: InitRecord | null): string {
  if (init === null) return '';
  const r = init.run;
  if (r === null) return `  - Started from the weights of ${init.dir} (no record of how they were made).\n`;
  const skills = r.skills
    ? PRETRAIN_TASKS.filter((t) => r.skills![t] !== undefined)
        .map((t) => `${t} ${pct(r.skills![t].exact)}`)
        .join(', ')
    : '-';
  return (
    lineage(init.before) +
    `  - An earlier run (${runName(init.dir)}): ${r.step} steps of ${r.config.batchSize}, lr ${r.config.lr}, seed ${r.config.seed}, ` +
    `${(r.seconds / 3600).toFixed(2)} h, on the task definitions of its time (its last probes, exact: ${skills}).\n`
  );
}

/** Wall time of the earlier runs of a continued run. */
const earlierSeconds = (init: InitRecord | null): number => (init?.run ? init.run.seconds + earlierSeconds(init.before) : 0);

function card(
  c: PretrainConfig,
  state: PretrainState,
  model: PolicyModel,
  curve: { step: number; seconds: number; skills: SkillFigures }[],
  init: InitRecord | null,
): string {
  const s = state.skills;
  const before = earlierSeconds(init);
  const rows = PRETRAIN_TASKS.map((t) => `| ${t} | ${(100 * TASK_MIX[t]).toFixed(0)}% | ${s ? pct(s[t].exact) : '-'} | ${s ? pct(s[t].lines) : '-'} |`);
  const history = curve.map((l) => `| ${l.step} | ${l.seconds} | ${PRETRAIN_TASKS.map((t) => pct(l.skills[t].exact)).join(' | ')} |`);
  return `# The built-in backbone (stable-reinforce)

A ${model.numParameters.toLocaleString('en-US')}-parameter built-in model (d ${c.model.dModel}, ${c.model.nLayers} layers, ${c.model.nHeads} heads, SwiGLU ${c.model.dFF},
${c.model.imageSize}x${c.model.imageSize} images in ${c.model.patchSize}x${c.model.patchSize} patches, context ${c.model.maxSeqLen}, image positions ${c.model.imagePositions},
its own BPE tokenizer: ${model.tokenizer.merges.length} merges learnt, at most ${c.bpeMerges}, ${model.tokenizer.vocabSize} tokens), pretrained by \`npm run pretrain\` (lib/train/pretrain) so that the demo
starts, like R1-Reward, from a model that already reads images and follows short instructions, and only has to be
taught to judge. Weights in bf16.

## Training

- Data: every example drawn fresh from the synthetic generator (lib/data, levels ${c.levels.join(', ')}, ${c.grid}x${c.grid} grid) under
  seeds of its own (tasks.ts \`PRETRAIN_SEED_BASE\` + ${c.seed}); a drawn (scene, question) that occurs in the demo's test split of
  seeds 0-2 is skipped. No example writes a verdict.
${init ? `- The weights continue earlier runs, in this order:\n${lineage(init)}- Then this run.\n` : ''}- Tasks (share of the examples; lib/train/pretrain/tasks.ts): ${PRETRAIN_TASKS.map((t) => `${t} ${(100 * TASK_MIX[t]).toFixed(0)}%`).join(', ')}.
- ${state.step} steps of ${c.batchSize} examples (schedule: ${c.steps} steps), AdamW lr ${c.lr} (warm-up ${c.warmupSteps}, cosine to
  ${c.minLrRatio} of it), betas (0.9, 0.95), weight decay ${c.weightDecay}, gradient norm clipped at ${c.maxGradNorm}, seed ${c.seed}.
- Wall time: ${(state.seconds / 3600).toFixed(2)} h${before > 0 ? ` (${((before + state.seconds) / 3600).toFixed(2)} h with the earlier runs)` : ''} on ${os.cpus()[0]?.model ?? 'an unknown CPU'} (${os.cpus().length} threads; the
  time of the exporting machine's CPU is shown, the run may have moved between machines of one kind).

## Skills (greedy, ${c.probePerTask} held-out probes per task, at step ${s?.step ?? '-'})

| task | share | exact answers | lines right |
| --- | --- | --- | --- |
${rows.join('\n')}

## Along the run (exact answers per task)

| step | seconds | ${PRETRAIN_TASKS.join(' | ')} |
| --- | --- | ${PRETRAIN_TASKS.map(() => '---').join(' | ')} |
${history.join('\n')}
`;
}

export async function exportBackbone(runDir: string, dir: string): Promise<ExportResult> {
  const ckpt = path.join(runDir, 'checkpoint');
  if (!fs.existsSync(path.join(ckpt, 'state.json'))) throw new Error(`${runDir} has no pretraining checkpoint (checkpoint/state.json)`);
  const c = await readJson<PretrainConfig>(path.join(runDir, 'config.json'));
  const state = await readJson<PretrainState>(path.join(ckpt, 'state.json'));
  const model = await PolicyModel.load(path.join(ckpt, 'model'));
  try {
    const initFile = path.join(runDir, 'init.json');
    const init = c.init && fs.existsSync(initFile) ? await readJson<InitRecord>(initFile) : null;
    fs.mkdirSync(dir, { recursive: true });
    await model.save(dir, { dtype: 'bf16' });
    const skillsFile = path.join(runDir, 'skills.jsonl');
    const curve = fs.existsSync(skillsFile)
      ? fs
          .readFileSync(skillsFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l))
          .filter((l) => l.step <= state.step)
      : [];
    fs.writeFileSync(
      path.join(dir, 'skills.json'),
      JSON.stringify({ config: c, step: state.step, seconds: Math.round(state.seconds), final: state.skills, curve, init }, null, 2) + '\n',
    );
    fs.writeFileSync(path.join(dir, 'card.md'), card(c, state, model, curve, init));
    return { dir, step: state.step, sha256: sha256File(path.join(dir, 'model.safetensors')) };
  } finally {
    model.dispose();
  }
}
