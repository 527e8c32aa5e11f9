/**
 * Labels for /get_reward requests that carry none, from a dataset file matched by prompt. Rows:
 *   - R1-Reward RL rows `{ message: "<JSON chat>", answer: ["<answer>2</answer>"] }` (text = the user's text part),
 *   - synthetic rows `{ question, response1, response2, label }` (text = the filled R1-Reward prompt),
 *   - `{ prompt, label }`.
 * The match key is the template's variable part (question and both responses) when the text contains the
 * R1-Reward template, else the whole text; whitespace is collapsed, so chat templating does not matter.
 */
import { readRows } from '../eval/loaders';
import { buildPrompt, promptKey } from '../eval/prompt';
import { normalizeLabel } from '../rewards/result';
import type { Verdict } from '../rewards/verdict';

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

function keyOf(text: string): string {
  return promptKey(text) ?? collapse(text);
}

function userText(message: unknown): string | null {
  let msgs: unknown = message;
  if (typeof message === 'string') {
    try {
      msgs = JSON.parse(message);
    } catch {
      return message;
    }
  }
  if (!Array.isArray(msgs)) return null;
  const parts: string[] = [];
  for (const m of msgs as Array<{ role?: string; content?: unknown }>) {
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') parts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const c of m.content as Array<{ type?: string; text?: unknown }>) if (c?.type === 'text' && typeof c.text === 'string') parts.push(c.text);
    }
  }
  return parts.length ? parts.join('\n') : null;
}

export class LabelIndex {
  private readonly map = new Map<string, Verdict>();
  /** Rows whose text repeats an earlier row's with a different label (the first one is kept). */
  conflicts = 0;

  get size(): number {
    return this.map.size;
  }

  add(text: string, label: Verdict): void {
    const k = keyOf(text);
    const have = this.map.get(k);
    if (have === undefined) this.map.set(k, label);
    else if (have !== label) this.conflicts++;
  }

  /** The label of the dataset row whose prompt appears in `prompt`, or null. */
  lookup(prompt: string): Verdict | null {
    const k = promptKey(prompt);
    if (k !== null) {
      const v = this.map.get(k);
      if (v !== undefined) return v;
    }
    return this.map.get(collapse(prompt)) ?? null;
  }

  static fromFile(file: string): LabelIndex {
    const index = new LabelIndex();
    for (const { row, value } of readRows(file)) {
      const where = `${file}:${row}`;
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: row is not a JSON object`);
      const o = value as Record<string, unknown>;
      let text: string | null = null;
      let raw: unknown;
      if (o.message !== undefined) {
        text = userText(o.message);
        raw = o.answer ?? o.label;
      } else if (typeof o.question === 'string' && typeof o.response1 === 'string' && typeof o.response2 === 'string') {
        text = buildPrompt(o.question, o.response1, o.response2);
        raw = o.label;
      } else if (typeof o.prompt === 'string') {
        text = o.prompt;
        raw = o.label ?? o.answer;
      }
      if (text === null) throw new Error(`${where}: no prompt found (expected "message", "question"+"response1"+"response2", or "prompt")`);
      let label: Verdict;
      try {
        label = normalizeLabel(raw, o.message !== undefined && o.answer !== undefined ? 'answer' : 'label');
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`);
      }
      index.add(text, label);
    }
    return index;
  }
}
