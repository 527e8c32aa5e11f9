import { createHash } from 'crypto';
import { buildPrompt, promptKey, R1_REWARD_PROMPT_TEMPLATE } from '../../lib/eval';

describe("R1-Reward's prompt template", () => {
  it('is byte for byte the published template (trailing double spaces included)', () => {
    // sha256 of the template as printed in the reference file's code block.
    expect(createHash('sha256').update(R1_REWARD_PROMPT_TEMPLATE).digest('hex')).toBe(EXPECTED_SHA);
    const lines = R1_REWARD_PROMPT_TEMPLATE.split('\n');
    expect(lines.filter((l) => l.endsWith('  ') && !l.startsWith('  -')).map((l) => l.trim())).toEqual([
      '###### **Input:**',
      '{question}',
      '{answer1}',
      '{answer2}',
      '###### **Output Format (strictly follow):**',
    ]);
    expect(lines[lines.length - 1]).toBe('<think>Your detailed comparative analysis goes here</think><answer>1/2</answer>');
  });

  it('fills question, Response 1 and Response 2 literally', () => {
    const p = buildPrompt('What is $& in {answer2}?', 'costs $1 {question}', 'B');
    expect(p).toContain('###### [Question]:\nWhat is $& in {answer2}?  \n');
    expect(p).toContain('###### [Response 1]:\ncosts $1 {question}  \n');
    expect(p).toContain('###### [Response 2]:\nB  \n');
    expect(() => buildPrompt('q', undefined as unknown as string, 'b')).toThrow(/response1 must be a string/);
  });

  it('promptKey finds the variable part inside a chat-templated prompt, whitespace-insensitive', () => {
    const p = buildPrompt('Q', 'A', 'B');
    const wrapped = `<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>${p.replace(/ {2}\n/g, '\n')}<|im_end|>`;
    expect(promptKey(wrapped)).toBe(promptKey(p));
    expect(promptKey(p)).toBe('###### [Question]: Q ###### [Response 1]: A ###### [Response 2]: B');
    expect(promptKey('no template here')).toBeNull();
  });
});

const EXPECTED_SHA = '5593ecd7d4d7ec962076e313f8b061a91e39e1b68f6517afb4278a3bbdc89245';
