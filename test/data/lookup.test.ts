/** Cell lookups: "Describe the X, Y cells." -> the caption lines of X and Y in the order named. */
import { DEFAULT_COLOURS, DEFAULT_KINDS, Rng, parseCellName, randomScene, sceneCaption } from '../../lib/data';
import type { PreferenceRow } from '../../lib/data/io';
import { lookupPrompt } from '../../lib/data/scene';
import { promptOf } from '../../lib/eval/prompt';
import { ImageCache, LOOKUP_MAX_CELLS, lookupExample } from '../../lib/train/dataset';
import { TEST_SEED, seedNote } from '../helpers/random';

const image = new Uint8Array(3);
const images = { get: () => image } as unknown as ImageCache;

test(`a lookup answers the named cells, in the order named, with the caption's lines ${seedNote}`, () => {
  const rng = Rng.derive(TEST_SEED, 'lookup');
  const sizes = new Set<number>();
  const firstCells = new Set<string>();
  for (let t = 0; t < 300; t++) {
    const grid = 2 + rng.int(3);
    const scene = randomScene(rng, { grid, count: 1 + rng.int(grid * grid - 1), kinds: DEFAULT_KINDS, colours: DEFAULT_COLOURS, sizeRange: [0.6, 0.9] });
    const row = {
      id: `r${t}`,
      image: 'x.png',
      question: 'How many red circles are there?',
      response1: 'One.',
      response2: 'Two.',
      label: 1,
      scene,
    } as PreferenceRow;
    const afterTask = t % 2 === 0;
    const ex = lookupExample(images, row, rng, afterTask);
    expect(ex.image).toBe(image);
    const head = afterTask ? promptOf(row) : '';
    expect(ex.prompt.startsWith(head)).toBe(true);
    const m = /^Describe the (.+) cells?\.\n$/.exec(ex.prompt.slice(head.length));
    expect(m).not.toBeNull();
    const names = m![1].split(', ');
    const cells = names.map((n) => parseCellName(grid, n));
    cells.forEach((c) => expect(c).toBeDefined());
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeLessThanOrEqual(Math.min(LOOKUP_MAX_CELLS, grid * grid));
    expect(ex.prompt.slice(head.length)).toBe(
      lookupPrompt(
        grid,
        cells.map((c) => c!),
      ),
    );
    // The answer: exactly the caption's lines of those cells, in the order named.
    const caption = sceneCaption(scene).split('\n');
    expect(ex.response.split('\n')).toEqual(cells.map((c) => caption[c!.row * grid + c!.col]));
    sizes.add(names.length);
    if (grid === 3) firstCells.add(names[0]);
  }
  expect([...sizes].sort()).toEqual([1, 2, 3]);
  expect(firstCells.size).toBe(9); // any cell can come first: not the caption's order
});

test('lookupPrompt names one cell or several, and refuses none', () => {
  expect(lookupPrompt(3, [{ row: 1, col: 1 }])).toBe('Describe the center cell.\n');
  expect(
    lookupPrompt(3, [
      { row: 2, col: 0 },
      { row: 0, col: 2 },
    ]),
  ).toBe('Describe the bottom-left, top-right cells.\n');
  expect(() => lookupPrompt(3, [])).toThrow(RangeError);
});
