/**
 * Prompt builders.
 *
 * - `buildR1Prompt`: R1-Reward's own template, byte for byte (lines that end in
 *   two spaces keep them), as lib/eval/prompt.ts defines it. Use it with real
 *   data and real (large) models.
 * - `buildCompactPrompt`: three short lines for the built-in byte-level model.
 *   The full template is ~700 bytes of fixed instructions, several times the
 *   built-in model's context, and carries no information a model trained only
 *   on this task needs: the output format is learned from the teacher targets
 *   in stage 1. So the small model sees only the question and the two
 *   responses, labelled the way the analyses refer to them ("Response 1").
 */

import { R1_REWARD_PROMPT_TEMPLATE, buildPrompt as fillR1Template } from '../eval/prompt';

// The template lives in lib/eval (evaluation uses it too); the fixed parts between its
// placeholders are derived from it here, so the parser can never drift from the builder.
function templateParts(): [string, string, string, string] {
  const t = R1_REWARD_PROMPT_TEMPLATE;
  const q = t.indexOf('{question}');
  const a1 = t.indexOf('{answer1}');
  const a2 = t.indexOf('{answer2}');
  if (!(q >= 0 && a1 > q && a2 > a1)) throw new Error('R1-Reward template: placeholders missing or out of order');
  return [t.slice(0, q), t.slice(q + 10, a1), t.slice(a1 + 9, a2), t.slice(a2 + 9)];
}
const [R1_HEAD, R1_AFTER_QUESTION, R1_AFTER_RESPONSE1, R1_TAIL] = templateParts();

function text(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${value === null ? 'null' : typeof value}`);
  return value;
}

/** R1-Reward's prompt template with the question and the two responses filled in (lib/eval's builder). */
export function buildR1Prompt(question: string, response1: string, response2: string): string {
  return fillR1Template(question, response1, response2);
}

/**
 * Inverse of buildR1Prompt. Throws a RangeError when `prompt` does not follow
 * the template (the error says which part is missing).
 */
export function parseR1Prompt(prompt: string, name = 'prompt'): { question: string; response1: string; response2: string } {
  text(prompt, name);
  if (!prompt.startsWith(R1_HEAD)) throw new RangeError(`${name} does not start with R1-Reward's prompt template`);
  if (!prompt.endsWith(R1_TAIL)) throw new RangeError(`${name} does not end with R1-Reward's "Output Format" block`);
  const body = prompt.slice(R1_HEAD.length, prompt.length - R1_TAIL.length);
  // Markers searched from the ends inwards: a question may contain anything, responses rarely contain markers.
  const i2 = body.lastIndexOf(R1_AFTER_RESPONSE1);
  if (i2 < 0) throw new RangeError(`${name} has no "[Response 2]" section`);
  const i1 = body.lastIndexOf(R1_AFTER_QUESTION, i2);
  if (i1 < 0) throw new RangeError(`${name} has no "[Response 1]" section`);
  return {
    question: body.slice(0, i1),
    response1: body.slice(i1 + R1_AFTER_QUESTION.length, i2),
    response2: body.slice(i2 + R1_AFTER_RESPONSE1.length),
  };
}

/**
 * Compact prompt for the built-in model:
 *   "Q: <question>\nResponse 1: <response1>\nResponse 2: <response2>"
 * No trailing newline: the caller adds whatever separator its model uses.
 */
export function buildCompactPrompt(question: string, response1: string, response2: string): string {
  return `Q: ${text(question, 'question')}\nResponse 1: ${text(response1, 'response1')}\nResponse 2: ${text(response2, 'response2')}`;
}

export type PromptStyle = 'r1' | 'compact';

export function buildPrompt(style: PromptStyle, question: string, response1: string, response2: string): string {
  if (style === 'r1') return buildR1Prompt(question, response1, response2);
  if (style === 'compact') return buildCompactPrompt(question, response1, response2);
  throw new TypeError(`style must be 'r1' or 'compact', got ${JSON.stringify(style)}`);
}
