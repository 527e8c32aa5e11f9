import { checkResponse, claimHolds, claimText, parseClaim, parseResponse } from '../../lib/data/claims';
import { Question, answerQuestion, answerQuestionText, parseQuestion, questionCategory, questionText } from '../../lib/data/questions';
import { Scene, cellName, parseCellName, validateScene } from '../../lib/data/scene';

// 3x3:  red circle | .            | blue square
//       .          | green cross  | red triangle
//       red square | .            | .
const scene: Scene = {
  grid: 3,
  objects: [
    { kind: 'circle', colour: 'red', row: 0, col: 0, size: 0.75 },
    { kind: 'square', colour: 'blue', row: 0, col: 2, size: 0.75 },
    { kind: 'cross', colour: 'green', row: 1, col: 1, size: 0.75 },
    { kind: 'triangle', colour: 'red', row: 1, col: 2, size: 0.75 },
    { kind: 'square', colour: 'red', row: 2, col: 0, size: 0.75 },
  ],
};

describe('cell names', () => {
  test('3x3 names round trip and are all distinct', () => {
    const names = new Set<string>();
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) {
        const n = cellName(3, r, c);
        names.add(n);
        expect(parseCellName(3, n)).toEqual({ row: r, col: c });
      }
    expect(names.size).toBe(9);
    expect(cellName(3, 0, 0)).toBe('top-left');
    expect(cellName(3, 1, 1)).toBe('center');
    expect(parseCellName(3, 'middle-middle')).toBeUndefined();
  });
  test('other grids use row/col, 1-based', () => {
    expect(cellName(4, 1, 3)).toBe('row 2 col 4');
    expect(parseCellName(4, 'row 2 col 4')).toEqual({ row: 1, col: 3 });
    expect(parseCellName(4, 'row 5 col 1')).toBeUndefined();
  });
});

describe('questions', () => {
  const cases: [Question, string, string][] = [
    [{ type: 'count', filter: { colour: 'red' } }, 'How many red shapes are there?', '3'],
    [{ type: 'count', filter: { kind: 'square' } }, 'How many squares are there?', '2'],
    [{ type: 'count', filter: { colour: 'red', kind: 'cross' } }, 'How many red crosses are there?', '0'],
    [{ type: 'attribute', attr: 'colour', row: 1, col: 2 }, 'What colour is the shape in the middle-right cell?', 'red'],
    [{ type: 'attribute', attr: 'kind', row: 0, col: 2 }, 'What shape is in the top-right cell?', 'square'],
    [{ type: 'attribute', attr: 'kind', row: 2, col: 2 }, 'What shape is in the bottom-right cell?', 'none'],
    [{ type: 'existence', thing: { colour: 'blue', kind: 'triangle' } }, 'Is there a blue triangle?', 'no'],
    [{ type: 'existence', thing: { colour: 'green', kind: 'cross' } }, 'Is there a green cross?', 'yes'],
    [{ type: 'comparison', a: { kind: 'square' }, b: { kind: 'circle' } }, 'Are there more squares than circles?', 'yes'],
    [{ type: 'comparison', a: { colour: 'blue' }, b: { colour: 'green' } }, 'Are there more blue shapes than green shapes?', 'no'],
    [{ type: 'relation', dir: 'right', anchor: { colour: 'green', kind: 'cross' } }, 'What is to the right of the green cross?', 'red triangle'],
    [{ type: 'relation', dir: 'above', anchor: { colour: 'red', kind: 'triangle' } }, 'What is above the red triangle?', 'blue square'],
  ];
  test.each(cases)('%j -> text, parse back, answer', (q, text, answer) => {
    expect(questionText(3, q)).toBe(text);
    expect(parseQuestion(3, text)).toEqual(q);
    expect(answerQuestion(scene, q)).toBe(answer);
    expect(answerQuestionText(scene, text)).toBe(answer);
  });
  test('relation questions that are not well posed throw instead of guessing', () => {
    // Below the red circle there is exactly one object: well posed.
    expect(answerQuestionText(scene, 'What is below the red circle?')).toBe('red square');
    // Nothing to the left of the red circle.
    expect(() => answerQuestionText(scene, 'What is to the left of the red circle?')).toThrow(/ambiguous/);
    // No purple circle at all.
    expect(() => answerQuestionText(scene, 'What is above the purple circle?')).toThrow(/ambiguous/);
  });
  test('text outside the grammar is rejected', () => {
    expect(() => parseQuestion(3, 'How many dogs are there?')).toThrow(/grammar/);
    expect(() => parseQuestion(3, 'What shape is in the row 1 col 1 cell?')).toThrow(/grammar/);
  });
});

describe('claims', () => {
  const truths = [
    'There are 3 red shapes.',
    'There is 1 circle and 2 squares.',
    'There are no purple shapes.',
    'There are 5 shapes.',
    'The shape in the top-left cell is red.',
    'The shape in the top-left cell is a circle.',
    'The middle-right cell has a red triangle.',
    'The bottom-right cell is empty.',
    'Yes, there is a red square.',
    'No, there is no red cross.',
    'Yes, there are more red shapes than blue shapes.',
    'No, there are not more circles than squares.',
    'There is a red triangle to the right of the green cross.',
    'There is a red square below the red circle.',
  ];
  const falsehoods = [
    'There are 2 red shapes.',
    'There is 1 circle and 1 square.',
    'The shape in the top-left cell is blue.',
    'The shape in the center cell is a circle.',
    'The top-middle cell has a red circle.',
    'The center cell is empty.',
    'Yes, there is a blue triangle.',
    'No, there is no green cross.',
    'Yes, there are more blue shapes than red shapes.',
    'There is a blue square to the right of the green cross.',
    'There is a red circle to the left of the green cross.',
  ];
  test.each(truths)('true: %s', (s) => {
    const c = parseClaim(3, s);
    expect(claimText(3, c)).toBe(s);
    expect(claimHolds(scene, c)).toBe(true);
  });
  test.each(falsehoods)('false: %s', (s) => {
    const c = parseClaim(3, s);
    expect(claimText(3, c)).toBe(s);
    expect(claimHolds(scene, c)).toBe(false);
  });
  test('number agreement and unknown sentences are rejected', () => {
    expect(() => parseClaim(3, 'There are 1 red shapes.')).toThrow(/number/);
    expect(() => parseClaim(3, 'The sky is blue.')).toThrow(/grammar/);
    expect(() => parseClaim(3, 'The shape in the nowhere cell is red.')).toThrow(/cell name/);
  });
  test('checkResponse separates a right answer with a wrong detail from a right response', () => {
    const q = parseQuestion(3, 'How many red shapes are there?');
    const good = checkResponse(scene, q, 'There are 3 red shapes. The top-left cell has a red circle.');
    expect(good).toMatchObject({ answer: '3', truth: '3', answerCorrect: true, correct: true });
    const detail = checkResponse(scene, q, 'There are 3 red shapes. The top-left cell has a red square.');
    expect(detail).toMatchObject({ answerCorrect: true, correct: false });
    expect(detail.claims.map((c) => c.holds)).toEqual([true, false]);
    const wrong = checkResponse(scene, q, 'There are 4 red shapes.');
    expect(wrong).toMatchObject({ answer: '4', answerCorrect: false, correct: false });
    // A first sentence that does not answer the question is not a right answer.
    expect(checkResponse(scene, q, 'There are 5 shapes.').answer).toBeNull();
    expect(parseResponse(3, 'There are 3 red shapes. The center cell has a green cross.')).toHaveLength(2);
  });
});

describe("level 0: the scene's one shape, no cell named", () => {
  const one: Scene = { grid: 3, objects: [{ kind: 'triangle', colour: 'blue', row: 2, col: 1, size: 0.75 }] };
  const cases: [Question, string, string][] = [
    [{ type: 'single', attr: 'colour' }, 'What colour is the shape?', 'blue'],
    [{ type: 'single', attr: 'kind' }, 'What shape is in the image?', 'triangle'],
    [{ type: 'existence', thing: { colour: 'blue' } }, 'Is there a blue shape?', 'yes'],
    [{ type: 'existence', thing: { colour: 'red' } }, 'Is there a red shape?', 'no'],
    [{ type: 'existence', thing: { kind: 'triangle' } }, 'Is there a triangle?', 'yes'],
    [{ type: 'existence', thing: { kind: 'circle' } }, 'Is there a circle?', 'no'],
  ];
  test.each(cases)('%j -> text, parse back, answer', (q, text, answer) => {
    expect(questionText(3, q)).toBe(text);
    expect(parseQuestion(3, text)).toEqual(q);
    expect(answerQuestion(one, q)).toBe(answer);
  });
  test('categories: a single question is an attribute question', () => {
    expect(questionCategory({ type: 'single', attr: 'kind' })).toBe('attribute');
    expect(questionCategory({ type: 'existence', thing: { kind: 'circle' } })).toBe('existence');
  });
  test('"the shape" on a scene without exactly one shape throws; existence by colour or kind works on any scene', () => {
    expect(() => answerQuestionText(scene, 'What colour is the shape?')).toThrow(/exactly one shape, the scene has 5/);
    expect(() => answerQuestionText({ grid: 3, objects: [] }, 'What shape is in the image?')).toThrow(/has 0/);
    expect(answerQuestionText(scene, 'Is there a green shape?')).toBe('yes');
    expect(answerQuestionText(scene, 'Is there a diamond?')).toBe('no');
  });
  test('outside the grammar: no colour and no kind, a plural', () => {
    expect(() => parseQuestion(3, 'Is there a shape?')).toThrow(/grammar/);
    expect(() => parseQuestion(3, 'Is there a circles?')).toThrow(/grammar/);
    expect(() => parseClaim(3, 'Yes, there is a shape.')).toThrow(/grammar/);
    expect(() => parseClaim(3, 'The shape is tall.')).toThrow(/grammar/);
  });
  test.each([
    ['The shape is blue.', true],
    ['The shape is a triangle.', true],
    ['Yes, there is a blue shape.', true],
    ['No, there is no red shape.', true],
    ['Yes, there is a triangle.', true],
    ['No, there is no circle.', true],
    ['The shape is red.', false],
    ['The shape is a square.', false],
    ['No, there is no blue shape.', false],
    ['Yes, there is a circle.', false],
  ])('%s (%s)', (sentence, holds) => {
    const c = parseClaim(3, sentence);
    expect(claimText(3, c)).toBe(sentence);
    expect(claimHolds(one, c)).toBe(holds);
  });
  test('"The shape is ..." is false of a scene with several shapes; checkResponse reads the answers', () => {
    expect(claimHolds(scene, parseClaim(3, 'The shape is red.'))).toBe(false);
    const q = parseQuestion(3, 'What shape is in the image?');
    expect(checkResponse(one, q, 'The shape is a triangle.')).toMatchObject({ answer: 'triangle', truth: 'triangle', correct: true });
    expect(checkResponse(one, q, 'The shape is a cross.')).toMatchObject({ answer: 'cross', answerCorrect: false, correct: false });
    // A colour does not answer "what shape".
    expect(checkResponse(one, q, 'The shape is blue.').answer).toBeNull();
    const e = parseQuestion(3, 'Is there a red shape?');
    expect(checkResponse(one, e, 'No, there is no red shape.')).toMatchObject({ answer: 'no', correct: true });
    // An answer about a red triangle does not answer "a red shape".
    expect(checkResponse(one, e, 'No, there is no red triangle.').answer).toBeNull();
  });
});

describe('validateScene', () => {
  test('errors name the field', () => {
    expect(() => validateScene({ grid: 3, objects: [{ kind: 'star', colour: 'red', row: 0, col: 0, size: 0.7 }] })).toThrow(/scene\.objects\[0\]\.kind/);
    expect(() => validateScene({ grid: 3, objects: [{ kind: 'circle', colour: 'pink', row: 0, col: 0, size: 0.7 }] })).toThrow(/scene\.objects\[0\]\.colour/);
    expect(() => validateScene({ grid: 3, objects: [{ kind: 'circle', colour: 'red', row: 3, col: 0, size: 0.7 }] })).toThrow(/scene\.objects\[0\]\.row/);
    expect(() => validateScene({ grid: 3, objects: [{ kind: 'circle', colour: 'red', row: 0, col: 0, size: 2 }] })).toThrow(/scene\.objects\[0\]\.size/);
    expect(() => validateScene({ grid: 1, objects: [] })).toThrow(/scene\.grid/);
    const dup = { kind: 'circle', colour: 'red', row: 0, col: 0, size: 0.7 };
    expect(() => validateScene({ grid: 3, objects: [dup, { ...dup }] })).toThrow(/already holds/);
    expect(validateScene(scene)).toBe(scene);
  });
});
