import { LEVELS, generateSample } from '../../lib/data/generate';
import { BACKGROUND_RGB, cellCentrePixel, decodeImage, encodePng, insideShape, renderScene, renderScenePng } from '../../lib/data/render';
import { COLOUR_RGB, COLOURS, DEFAULT_COLOURS, DEFAULT_KINDS, SHAPE_KINDS, Scene, objectAt } from '../../lib/data/scene';

const pixel = (img: { data: Buffer; width: number }, x: number, y: number) => {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
};

function nearestColour(rgb: number[]): string {
  let best = '';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(COLOUR_RGB)) {
    const d = (rgb[0] - c[0]) ** 2 + (rgb[1] - c[1]) ** 2 + (rgb[2] - c[2]) ** 2;
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

const scene: Scene = {
  grid: 3,
  objects: SHAPE_KINDS.map((kind, i) => ({ kind, colour: COLOURS[i], row: Math.floor(i / 3), col: i % 3, size: 0.55 })),
};

describe('render', () => {
  test('palette colours are far apart from each other and from the background', () => {
    const all = [...Object.values(COLOUR_RGB), BACKGROUND_RGB];
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) {
        const d = Math.hypot(all[i][0] - all[j][0], all[i][1] - all[j][1], all[i][2] - all[j][2]);
        expect(d).toBeGreaterThan(100);
      }
  });

  test('every shape covers its cell centre, stays inside its cell, and shapes differ', () => {
    const masks = new Set<string>();
    for (const kind of SHAPE_KINDS) {
      for (const size of [0.5, 0.95]) {
        expect(insideShape({ kind, size }, 0, 0)).toBe(true);
        expect(insideShape({ kind, size }, 0.999, 0.999)).toBe(false);
      }
      let mask = '';
      for (let y = -1; y <= 1; y += 0.1) for (let x = -1; x <= 1; x += 0.1) mask += insideShape({ kind, size: 0.8 }, x, y) ? '#' : '.';
      masks.add(mask);
    }
    expect(masks.size).toBe(SHAPE_KINDS.length);
  });

  test.each([48, 32, 50, 240])('size %i: centre pixels hold the object colours, empty cells the background', (size) => {
    const img = renderScene(scene, size);
    expect(img.data.length).toBe(size * size * 3);
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) {
        const { x, y } = cellCentrePixel(size, 3, r, c);
        const o = objectAt(scene, r, c);
        expect(pixel(img, x, y)).toEqual(o ? [...COLOUR_RGB[o.colour]] : [...BACKGROUND_RGB]);
      }
  });

  test("at 48x48 each cell reads as its object colour (mean of the cell's bright pixels)", () => {
    // Smallest shapes of the hardest level, default palette.
    for (let i = 0; i < 20; i++) {
      const s = generateSample(
        { seed: 11, index: i, level: 4, category: 'count', label: 1 },
        {
          grid: 3,
          kinds: DEFAULT_KINDS,
          colours: DEFAULT_COLOURS,
          budgets: { prompt: [999, 999, 999, 999, 999], analysis: [999, 999, 999, 999, 999] },
          maxAttempts: 50,
        },
      ).scene;
      const img = renderScene(s, 48);
      for (const o of s.objects) {
        const sum = [0, 0, 0];
        let n = 0;
        for (let y = o.row * 16; y < o.row * 16 + 16; y++)
          for (let x = o.col * 16; x < o.col * 16 + 16; x++) {
            const p = pixel(img, x, y);
            if (Math.max(...p) > 120) {
              sum[0] += p[0];
              sum[1] += p[1];
              sum[2] += p[2];
              n++;
            }
          }
        expect(n).toBeGreaterThan(10);
        expect(nearestColour(sum.map((v) => v / n))).toBe(o.colour);
      }
    }
    expect(LEVELS[4].sizeRange[0]).toBeGreaterThanOrEqual(0.5);
  });

  test('PNG round trip keeps every pixel; same scene gives the same bytes', async () => {
    const img = renderScene(scene, 48);
    const png = await encodePng(img);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const back = await decodeImage(png);
    expect(back.width).toBe(48);
    expect(back.height).toBe(48);
    expect(back.data.equals(img.data)).toBe(true);
    expect((await renderScenePng(scene, 48)).equals(png)).toBe(true);
  });

  test('bad sizes are rejected with the argument named', () => {
    expect(() => renderScene(scene, 4)).toThrow(/size must be/);
    expect(() => renderScene(scene, 48.5)).toThrow(/size must be/);
    expect(() => renderScene(scene, 48, { supersample: 0 })).toThrow(/supersample/);
    expect(() => renderScene({ grid: 3, objects: [{ kind: 'blob' }] } as never, 48)).toThrow(/kind/);
  });
});
