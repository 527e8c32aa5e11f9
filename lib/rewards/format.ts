import { countOccurrences } from './verdict';

const FORMAT = /^<think>.*?<\/think><answer>.*?<\/answer>$/s;

/**
 * 1 when `text` is exactly `<think>...</think><answer>...</answer>` with one of each tag, else 0.
 * No trimming: callers that receive decoded model text strip end tokens and whitespace first.
 */
export function formatReward(text: string): 0 | 1 {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  if (!FORMAT.test(text)) return 0;
  // The lazy regex alone accepts e.g. "<think>a</think><answer>1</answer><answer>2</answer>"-like nesting.
  for (const tag of ['<think>', '</think>', '<answer>', '</answer>']) {
    if (countOccurrences(text, tag) !== 1) return 0;
  }
  return 1;
}
