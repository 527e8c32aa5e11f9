/**
 * Research probe (not a benchmark, not a test): can a freshly initialised built-in model learn one text-only
 * sub-skill of the judgement, on its own, in a given number of steps? It separates what the image adds from what
 * the reasoning needs (docs/research/image-blindness.md, fifth round).
 *
 *   node dist/scripts/probe-text-skills.js --skill recall|verdict [--preset demo] [--steps 3000] [--lr 1e-3]
 *     [--batch 8] [--eval-every 250] [--eval-n 60] [--seed 0] [--device cpu|cuda|auto]
 *
 * Skills (no image anywhere):
 * - recall: a fresh random scene's caption (one line per cell, in order) in the prompt, then "Describe the X, Y,
 *   ... cells." naming every cell in random order; the target is their lines in that order. This is the lookup
 *   by name an evidence line needs once the caption is written (associative recall). Metric: share of lines right.
 * - verdict: the preset's synthetic rows; the prompt is the task prompt, "<think>" and the teacher's analysis up
 *   to and including its "The image shows ..." line (the true evidence lines and fact); the target is the rest of
 *   the analysis and the verdict. This is the judgement with perfect vision. Metric: verdict accuracy on the
 *   first --eval-n test rows (overall and on the preset's hard levels).
 *
 * Model size, tokenizer merges and data come from the preset. Prints one JSON line per evaluation.
 */
import { resolveDevice, type DeviceChoice } from '../lib/backends';
import { parseFlags, str, type Flags } from '../lib/cli/args';
import { FACT_PREFIX } from '../lib/data/generate';
import { Rng } from '../lib/data/rng';
import { DEFAULT_COLOURS, DEFAULT_KINDS, cellLine, lookupPrompt, sceneCaption, type Scene } from '../lib/data/scene';
import { synthesize } from '../lib/data/synth';
import { AdamW, PolicyModel, type ModelExample } from '../lib/model';
import { modelConfigOf } from '../lib/train/config';
import { resolveTrainConfig } from '../lib/train/presets';
import { promptOf } from '../lib/eval/prompt';
import { runTokenizer, synthOptions } from '../lib/train/dataset';
import { sftStep } from '../lib/train/update';
import { parseVerdict } from '../lib/rewards';

// Strict parsing (an unknown or misspelt flag is an error), the subcommands' parser.
const FLAGS = Object.fromEntries(
  ['skill', 'preset', 'steps', 'lr', 'batch', 'eval-every', 'eval-n', 'seed', 'device'].map((f) => [f, { type: 'string' as const }]),
);

function arg(flags: Flags, name: string, fallback: string): string {
  return str(flags, name) ?? fallback;
}

function positive(flags: Flags, name: string, fallback: string, integer = true): number {
  const v = Number(arg(flags, name, fallback));
  if (!(v > 0) || (integer && !Number.isInteger(v)))
    throw new RangeError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${arg(flags, name, fallback)}`);
  return v;
}

function parseArgs() {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  const skill = arg(flags, 'skill', '');
  if (skill !== 'recall' && skill !== 'verdict') throw new RangeError(`--skill must be recall or verdict, got ${JSON.stringify(skill)}`);
  const seed = Number(arg(flags, 'seed', '0'));
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`--seed must be a non-negative integer, got ${arg(flags, 'seed', '0')}`);
  return {
    skill,
    steps: positive(flags, 'steps', '3000'),
    lr: positive(flags, 'lr', '1e-3', false),
    batchSize: positive(flags, 'batch', '8'),
    evalEvery: positive(flags, 'eval-every', '250'),
    evalN: positive(flags, 'eval-n', '60'),
    seed,
    device: arg(flags, 'device', 'cpu') as DeviceChoice,
    config: resolveTrainConfig(arg(flags, 'preset', 'demo'), { seed }),
  };
}

let opts: ReturnType<typeof parseArgs>;
try {
  opts = parseArgs();
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
}
const { skill, steps, lr, batchSize, evalEvery, evalN, seed, device, config: c } = opts;
const rng = new Rng(seed);

/** A scene with each cell filled with probability 1/2 (fresh every time: nothing to memorise). */
function randomFill(r: Rng): Scene {
  const grid = c.data.grid;
  const objects = [];
  for (let i = 0; i < grid * grid; i++) {
    if (r.chance(0.5)) objects.push({ kind: r.pick(DEFAULT_KINDS), colour: r.pick(DEFAULT_COLOURS), row: Math.floor(i / grid), col: i % grid, size: 0.8 });
  }
  return { grid, objects };
}

function recallExample(r: Rng): ModelExample & { response: string } {
  const scene = randomFill(r);
  const n = scene.grid * scene.grid;
  const cells = r.shuffle(Array.from({ length: n }, (_, i) => ({ row: Math.floor(i / scene.grid), col: i % scene.grid })));
  return {
    image: null,
    prompt: `${sceneCaption(scene)}\n${lookupPrompt(scene.grid, cells)}`,
    response: cells.map((q) => cellLine(scene, q.row, q.col)).join('\n'),
  };
}

const data = synthesize(synthOptions(c));

/** The teacher's text split after its fact line: the prompt ends with the evidence and the fact, the target is the rest. */
function verdictExample(row: (typeof data.train)[number]): ModelExample & { response: string; label: 1 | 2; level: number } {
  const body = row.teacher.slice('<think>'.length);
  const at = body.indexOf(FACT_PREFIX);
  const end = body.indexOf('\n', at);
  if (at < 0 || end < 0) throw new Error(`row ${row.id}: the teacher text has no "${FACT_PREFIX}" line`);
  return { image: null, prompt: `${promptOf(row)}<think>${body.slice(0, end + 1)}`, response: body.slice(end + 1), label: row.label, level: row.difficulty };
}

async function evaluate(model: PolicyModel): Promise<Record<string, number>> {
  if (skill === 'recall') {
    const r = Rng.derive(seed, 'probe-eval');
    const exs = Array.from({ length: evalN }, () => recallExample(r));
    const out = await model.generate(exs, { maxNewTokens: 16 * c.data.grid * c.data.grid, temperature: 0 });
    let right = 0;
    let lines = 0;
    out.forEach(([g], i) => {
      const want = exs[i].response.split('\n');
      const got = g.text.split('\n');
      right += want.filter((w, k) => got[k] === w).length;
      lines += want.length;
    });
    return { linesRight: right / lines };
  }
  const exs = data.test.slice(0, evalN).map(verdictExample);
  const out = await model.generate(exs, { maxNewTokens: c.eval.maxNewTokens, temperature: 0 });
  let right = 0;
  let hard = 0;
  let nHard = 0;
  out.forEach(([g], i) => {
    const v = parseVerdict(`<think>${g.text}`);
    const ok = v.ok && v.verdict === exs[i].label;
    right += Number(ok);
    if (c.eval.hardLevels.includes(exs[i].level)) {
      hard += Number(ok);
      nHard++;
    }
  });
  return { accuracy: right / exs.length, hardAccuracy: nHard ? hard / nHard : NaN, n: exs.length };
}

async function main(): Promise<void> {
  const tokenizer = runTokenizer(c, data.train);
  const model = PolicyModel.create(modelConfigOf(c), { device: resolveDevice(device, '--device'), seed, tokenizer });
  const opt = new AdamW(model, { lr, weightDecay: c.sft.weightDecay, maxGradNorm: c.sft.maxGradNorm });
  console.log(JSON.stringify({ skill, preset: c.preset, parameters: model.numParameters, steps, lr, batchSize, device: model.device }));
  const t0 = Date.now();
  let lossSum = 0;
  for (let step = 1; step <= steps; step++) {
    const batch = Array.from({ length: batchSize }, () => (skill === 'recall' ? recallExample(rng) : verdictExample(rng.pick(data.train))));
    lossSum += (await sftStep(model, opt, batch)).loss;
    if (step % evalEvery === 0 || step === steps) {
      const n = step % evalEvery || evalEvery;
      console.log(JSON.stringify({ step, loss: +(lossSum / n).toFixed(4), ...(await evaluate(model)), seconds: Math.round((Date.now() - t0) / 1000) }));
      lossSum = 0;
    }
  }
  model.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
