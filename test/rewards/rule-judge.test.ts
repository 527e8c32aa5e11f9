import { conclusionPreference, ruleConsistency, lastLines } from '../../lib/rewards';

describe('rule-based consistency judge', () => {
  it.each([
    ['Response 2 is better.', 2],
    ['Therefore, Response 1 is better than Response 2.', 1],
    ['Response 2 is worse than Response 1.', 1],
    ['I prefer Response 1.', 1],
    ['In conclusion, I prefer the second response.', 2],
    ['The second response is the better one.', 2],
    ['Overall, **Response 2** provides a more accurate description of the chart.', 2],
    ['Response 1 is not better.', 2],
    ['Response 2 is not as accurate as Response 1.', 1],
    ['Response 1 contains errors, so Response 2 is preferable.', 2],
    ['Response 1 accurately describes the image, while Response 2 hallucinates a dog.', 1],
    ['Although Response 1 is more detailed, Response 2 is better.', 2],
    ['Response 1 is more detailed, but Response 2 is more accurate.', 2],
    ['Both responses are fluent, but Response 2 is more accurate.', 2],
    ['Compared to Response 1, Response 2 is more helpful.', 2],
    ['Response 1, unlike Response 2, is correct.', 1],
    ['Response 2 is outperformed by Response 1.', 1],
    ['Response 2 should be chosen.', 2],
    ["I wouldn't choose Response 1.", 2],
    ['Response 2 has no errors.', 2],
    ['The better response is Response 1.', 1],
    ['Final verdict: 2', 2],
    ['Response one is superior.', 1],
    ['Response 2 fails to count the apples. Hence the first response wins.', 1],
    ['Both responses are equally good.', 'both'],
    ['Neither response is better.', 'both'],
    ['The image shows a cat on a sofa.', null],
    ['', null],
    // Multiple-choice letters are not responses.
    ['The correct option is A.', null],
  ])('%j -> %s', (text, want) => {
    expect(conclusionPreference(text)).toBe(want);
  });

  it('reads the conclusion: the last sentence that prefers something wins', () => {
    const analysis = 'Response 1 is better at first glance.\nLooking closer, Response 1 miscounts the birds.\nResponse 2 is better.';
    expect(conclusionPreference(analysis)).toBe(2);
  });

  it('only the last 3 lines count', () => {
    expect(lastLines('a\n\nb\nc\nd')).toBe('b\nc\nd');
    const analysis = 'Response 2 is better.\nThe sky is blue.\nThe grass is green.\nCats purr.';
    expect(conclusionPreference(analysis)).toBeNull();
  });

  it('maps to +1 / -1 / 0', () => {
    expect(ruleConsistency('Response 2 is better.', 2)).toBe(1);
    expect(ruleConsistency('Response 2 is better.', 1)).toBe(-1);
    expect(ruleConsistency('Both responses are equally good.', 1)).toBe(-1);
    expect(ruleConsistency('Nothing to conclude here.', 1)).toBe(0);
  });
});
