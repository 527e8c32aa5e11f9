/**
 * R1-Reward's released RL data format, one JSON object per line:
 *   { "message": "<JSON string: [{role: 'user', content: [{type: 'text', text: PROMPT}, {type: 'image', image: PATH}]}]>",
 *     "question": "...", "answer": ["<answer>2</answer>"] }
 * PROMPT is R1-Reward's template (buildR1Prompt) holding the question and both
 * responses; the label lives only in `answer`. These converters let the same
 * pipeline train on real data or export ours for theirs.
 */
import * as path from 'path';
import { PreferenceRow, readJsonl, validateRow, writeJsonl } from './io';
import { buildR1Prompt, parseR1Prompt } from '../eval/prompt';

export interface R1RewardRow {
  message: string;
  question: string;
  answer: string[];
}

export interface ToR1Options {
  /** Prefix joined to each row's image path (e.g. the dataset directory, for absolute paths). */
  imageRoot?: string;
}

export function toR1Row(row: PreferenceRow, options: ToR1Options = {}): R1RewardRow {
  validateRow(row, 'row');
  const image = options.imageRoot === undefined ? row.image : path.join(options.imageRoot, row.image);
  const messages = [
    {
      role: 'user',
      content: [
        { type: 'text', text: buildR1Prompt(row.question, row.response1, row.response2) },
        { type: 'image', image },
      ],
    },
  ];
  return { message: JSON.stringify(messages), question: row.question, answer: [`<answer>${row.label}</answer>`] };
}

/**
 * One R1-Reward row -> our row. `index` makes the id when the row has none
 * (`r1-<index>`). Errors name the field and, through `where`, the line.
 */
export function fromR1Row(value: unknown, index: number, where = `row ${index + 1}`): PreferenceRow {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where} must be a JSON object`);
  const r = value as Record<string, unknown>;
  let messages: unknown = r.message;
  if (typeof messages === 'string') {
    try {
      messages = JSON.parse(messages);
    } catch (e) {
      throw new SyntaxError(`${where}: message is not valid JSON (${(e as Error).message})`);
    }
  }
  if (!Array.isArray(messages)) throw new TypeError(`${where}: message must be a JSON string of a list of chat messages`);
  const user = messages.find((m) => m !== null && typeof m === 'object' && (m as { role?: unknown }).role === 'user') as { content?: unknown } | undefined;
  if (!user) throw new RangeError(`${where}: message has no user message`);
  const parts = typeof user.content === 'string' ? [{ type: 'text', text: user.content }] : user.content;
  if (!Array.isArray(parts)) throw new TypeError(`${where}: message user content must be a list of parts`);
  const texts: string[] = [];
  const images: string[] = [];
  for (const p of parts as Record<string, unknown>[]) {
    if (p?.type === 'text' && typeof p.text === 'string') texts.push(p.text);
    else if (p?.type === 'image' && typeof p.image === 'string') images.push(p.image);
  }
  if (texts.length !== 1) throw new RangeError(`${where}: message user content must have exactly one text part, found ${texts.length}`);
  if (images.length !== 1) throw new RangeError(`${where}: message user content must have exactly one image part, found ${images.length}`);
  const { question, response1, response2 } = parseR1Prompt(texts[0], `${where}: message user text`);
  const answers = typeof r.answer === 'string' ? [r.answer] : r.answer;
  if (!Array.isArray(answers) || typeof answers[0] !== 'string')
    throw new TypeError(`${where}: answer must be a list holding "<answer>1</answer>" or "<answer>2</answer>"`);
  const m = /^\s*<answer>\s*([12])\s*<\/answer>\s*$/.exec(answers[0]);
  if (!m) throw new RangeError(`${where}: answer[0] must be "<answer>1</answer>" or "<answer>2</answer>", got ${JSON.stringify(answers[0])}`);
  const id = typeof r.id === 'string' && r.id !== '' ? r.id : `r1-${index}`;
  return validateRow({ id, image: images[0], question, response1, response2, label: Number(m[1]) as 1 | 2 }, where);
}

export async function readR1Jsonl(file: string): Promise<PreferenceRow[]> {
  const name = path.basename(file);
  return (await readJsonl(file)).map((v, i) => fromR1Row(v, i, `${name} row ${i + 1}`));
}

export async function writeR1Jsonl(file: string, rows: readonly PreferenceRow[], options: ToR1Options = {}): Promise<void> {
  await writeJsonl(
    file,
    rows.map((r) => toR1Row(r, options)),
  );
}
