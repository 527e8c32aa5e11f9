/**
 * The pretraining tasks of the built-in backbone: what an instruct VLM brings to R1-Reward before it is taught to
 * judge, drawn fresh for every example (nothing to memorise) from the synthetic generator under its own seeds.
 *
 * Each task is one sub-skill of the judging chain that the demo's teacher analysis then strings together
 * (caption -> the cells the question needs -> the fact and the answer -> each response checked against it ->
 * verdict); no task writes a verdict, which stays for stage 1 and stage 2 to teach:
 *
 * | task | input | target | skill |
 * | --- | --- | --- | --- |
 * | caption | image, "Describe the image." | one line per cell in reading order | reading the image |
 * | recall | a caption as text, "Describe the X, Y cells." | the named cells' lines, in the order named | finding a line by its cell name (associative recall) |
 * | evidence | image, a question, "List the image, then the cells the question needs." | the caption, matches of the question marked ("center: red square #2"), then the lines of the cells it names | reading the image against a question; its own text back by name |
 * | fact | a caption as text, a question | the marked caption and named cells' lines, "The image shows ...", "The answer is ..." | short VQA over what was read |
 * | check | a caption and "The image shows ..." as text, a question, two responses | "The answer is X.", "Response N says Y: right/wrong." for each, "Response 1 also says X; the image has Y: right/wrong." for its details when both answers are right | checking claims against the facts, each decision after a copy |
 */
import { DEFAULT_BUDGETS, FACT_PREFIX, captionFirstAnalysis, generateSample, type GeneratorOptions, type Level, type SynthSample } from '../../data/generate';
import { CATEGORIES, parseQuestion } from '../../data/questions';
import { renderScene } from '../../data/render';
import { Rng } from '../../data/rng';
import { CAPTION_PROMPT, DEFAULT_COLOURS, DEFAULT_KINDS, cellLine, lookupPrompt, sceneCaption } from '../../data/scene';
import { promptOf } from '../../eval/prompt';
import type { ModelExample } from '../../model/policy-model';

export const PRETRAIN_TASKS = ['caption', 'recall', 'evidence', 'fact', 'check'] as const;
export type PretrainTask = (typeof PRETRAIN_TASKS)[number];

/** Share of each task in a batch (drawn per example). */
export const TASK_MIX: Readonly<Record<PretrainTask, number>> = Object.freeze({ caption: 0.05, recall: 0.1, evidence: 0.25, fact: 0.25, check: 0.35 });

export const EVIDENCE_PROMPT = 'List the image, then the cells the question needs.\n';
export const CHECK_PROMPT = 'Check the responses.\n';

/**
 * Seeds of the pretraining draws: far from the small seeds the judging data uses (the run's seed, 0-2 in the
 * benchmarks), so a pretraining scene is a fresh draw, not a test row; pretrain.ts also refuses any drawn
 * (scene, question) that occurs in the demo's test splits.
 */
export const PRETRAIN_SEED_BASE = 0x5eed0000;

export interface PretrainExample extends ModelExample {
  response: string;
  task: PretrainTask;
  /** Raw RGB bytes at the model's input size, or null for text-only tasks. */
  image: Uint8Array | null;
}

export interface TaskContext {
  seed: number;
  grid: number;
  imageSize: number;
  levels: readonly Level[];
}

export function generatorOptions(grid: number): GeneratorOptions {
  return { grid, kinds: DEFAULT_KINDS, colours: DEFAULT_COLOURS, budgets: DEFAULT_BUDGETS, maxAttempts: 200 };
}

/** A judging sample drawn for pretraining: example `index` of stream `purpose` (e.g. 'train' or 'probe'). */
export function pretrainSample(ctx: TaskContext, purpose: string, index: number): SynthSample {
  const r = Rng.derive(PRETRAIN_SEED_BASE + ctx.seed, purpose, 'spec', index);
  const spec = {
    seed: `${PRETRAIN_SEED_BASE + ctx.seed}-${purpose}`,
    index,
    level: r.pick(ctx.levels),
    category: r.pick(CATEGORIES),
    label: r.chance(0.5) ? 1 : 2,
  } as const;
  return generateSample(spec, generatorOptions(ctx.grid));
}

/**
 * The lines of the caption-first teacher analysis (lib/data captionFirstAnalysis): the marked caption, the
 * evidence lines it does not replace, the fact line, the answer line, the checks (one line per response, then
 * Response 1's details when both answers are right); the conclusion is left out.
 */
function analysisLines(s: SynthSample): { scan: string[]; fact: string; answer: string; checks: string[] } {
  const body = captionFirstAnalysis(s.scene, parseQuestion(s.scene.grid, s.question), s.teacher.slice('<think>'.length, s.teacher.indexOf('</think>')));
  const lines = body.split('\n');
  const at = lines.findIndex((l) => l.startsWith(FACT_PREFIX));
  if (at < 0 || lines.length < at + 5) throw new Error(`sample has no "${FACT_PREFIX}" line followed by the answer and two response lines`);
  return { scan: lines.slice(0, at), fact: lines[at], answer: lines[at + 1], checks: lines.slice(at + 2, -1) };
}

/** The image of a scene at the model's input size (what the trainer's image cache holds for a row). */
export function sceneImage(s: SynthSample, size: number): Uint8Array {
  return new Uint8Array(renderScene(s.scene, size).data);
}

/** One example of `task` from sample `s`; `r` draws the cells of a recall. */
export function taskExample(task: PretrainTask, s: SynthSample, r: Rng, imageSize: number): PretrainExample {
  const caption = sceneCaption(s.scene);
  const { scan, fact, answer, checks } = analysisLines(s);
  const question = `Q: ${s.question}\n`;
  switch (task) {
    case 'caption':
      return { task, image: sceneImage(s, imageSize), prompt: CAPTION_PROMPT, response: caption };
    case 'recall': {
      const g = s.scene.grid;
      const all = Array.from({ length: g * g }, (_, i) => ({ row: Math.floor(i / g), col: i % g }));
      const cells = r.sample(all, 1 + r.int(Math.min(4, all.length)));
      return {
        task,
        image: null,
        prompt: `${caption}\n${lookupPrompt(g, cells)}`,
        response: cells.map((c) => cellLine(s.scene, c.row, c.col)).join('\n'),
      };
    }
    case 'evidence':
      return { task, image: sceneImage(s, imageSize), prompt: question + EVIDENCE_PROMPT, response: scan.join('\n') };
    case 'fact':
      return { task, image: null, prompt: `${caption}\n${question}`, response: [...scan, fact, answer].join('\n') };
    case 'check':
      // The judging prompt's form, after the caption (a response can be wrong in a detail the fact line does not
      // cover) and the fact line.
      return { task, image: null, prompt: `${caption}\n${fact}\n${promptOf(s)}${CHECK_PROMPT}`, response: [answer, ...checks].join('\n') };
  }
}

/** Picks a task by TASK_MIX. */
export function drawTask(r: Rng): PretrainTask {
  let u = r.float();
  for (const t of PRETRAIN_TASKS) {
    u -= TASK_MIX[t];
    if (u < 0) return t;
  }
  return PRETRAIN_TASKS[PRETRAIN_TASKS.length - 1];
}

/** The batch of training step `step`: a function of (seed, step) alone, so a resumed run draws the same batches. */
export function trainBatch(ctx: TaskContext, step: number, batchSize: number, skip: (s: SynthSample) => boolean): PretrainExample[] {
  const r = Rng.derive(PRETRAIN_SEED_BASE + ctx.seed, 'batch', step);
  const out: PretrainExample[] = [];
  for (let i = 0, k = 0; i < batchSize; k++) {
    const s = pretrainSample(ctx, 'train', step * batchSize * 2 + k);
    if (skip(s)) continue;
    out.push(taskExample(drawTask(r), s, r, ctx.imageSize));
    i++;
  }
  return out;
}

/** The fixed probe set: `perTask` examples of every task from the 'probe' stream (never trained on). */
export function probeSet(ctx: TaskContext, perTask: number): PretrainExample[] {
  const out: PretrainExample[] = [];
  PRETRAIN_TASKS.forEach((task, t) => {
    for (let i = 0; i < perTask; i++) {
      const index = t * perTask + i;
      out.push(taskExample(task, pretrainSample(ctx, 'probe', index), Rng.derive(PRETRAIN_SEED_BASE + ctx.seed, 'probe-draw', index), ctx.imageSize));
    }
  });
  return out;
}
