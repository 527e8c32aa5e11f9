/** Pulls question and responses back out of an R1-Reward prompt, so a fake model can answer by content. */
export function parseR1Prompt(text: string): { question: string; response1: string; response2: string } {
  const m =
    /###### \[Question\]:\n([\s\S]*?) {2}\n\n###### \[Response 1\]:\n([\s\S]*?) {2}\n\n###### \[Response 2\]:\n([\s\S]*?) {2}\n\n###### \*\*Output Format/.exec(
      text,
    );
  if (!m) throw new Error('not an R1-Reward prompt: ' + text.slice(0, 80));
  return { question: m[1], response1: m[2], response2: m[3] };
}

export const think = (analysis: string, answer: string | number) => `<think>${analysis}</think><answer>${answer}</answer>`;
