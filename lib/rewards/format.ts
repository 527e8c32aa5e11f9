import { countOccurrences } from './verdict';

/**
 * 1 when `text` is exactly `<think>...</think><answer>...</answer>` with one of each tag, else 0.
 * No trimming: callers that receive decoded model text strip end tokens and whitespace first.
 */
export function formatReward(text: string): 0 | 1 {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  // The shape /^<think>.*?<\/think><answer>.*?<\/answer>$/s, checked with indexOf: the lazy regex retried the
  // tail from every "</think><answer>" (quadratic in their number).
  const head = '<think>';
  const middle = '</think><answer>';
  const tail = '</answer>';
  if (!text.startsWith(head) || !text.endsWith(tail)) return 0;
  const at = text.indexOf(middle, head.length);
  if (at === -1 || at + middle.length > text.length - tail.length) return 0;
  // One of each tag: this also refuses e.g. "<think>a</think><answer>1</answer><answer>2</answer>".
  for (const tag of [head, '</think>', '<answer>', tail]) {
    if (countOccurrences(text, tag) !== 1) return 0;
  }
  return 1;
}
