import { parseVerdict, type Verdict } from './verdict';

/** A preference label as trainers and datasets write it. */
export type LabelInput = Verdict | '1' | '2' | string | readonly string[];

/**
 * Normalises a label: 1, 2, "1", "2", "<answer>2</answer>", or a one-element array of those (R1-Reward's
 * training rows store `answer: ["<answer>2</answer>"]`). Anything else is a RangeError naming `name`.
 */
export function normalizeLabel(label: unknown, name = 'label'): Verdict {
  if (Array.isArray(label)) {
    if (label.length !== 1) throw new RangeError(`${name} must hold exactly one label, got ${label.length}`);
    return normalizeLabel(label[0], `${name}[0]`);
  }
  if (label === 1 || label === 2) return label;
  if (typeof label === 'string') {
    const m = /^\s*(?:<answer>\s*)?([12])(?:\s*<\/answer>)?\s*$/.exec(label);
    if (m) return Number(m[1]) as Verdict;
  }
  const shown = typeof label === 'string' ? JSON.stringify(label.slice(0, 60)) : String(label);
  throw new RangeError(`${name} must be 1, 2, "1", "2" or "<answer>1|2</answer>", got ${shown}`);
}

/**
 * 1 when the output has exactly one `<answer>...</answer>` whose content is the label, else 0.
 * Strict: no fallback parsing, so malformed outputs never earn the result reward.
 */
export function resultReward(text: string, label: unknown): 0 | 1 {
  const want = normalizeLabel(label);
  const parsed = parseVerdict(text, { fallback: false });
  return parsed.ok && parsed.verdict === want ? 1 : 0;
}
