/** sceneCaption: the vision warm-up's target, checked against the scene and the rendered pixels. */
import { COLOUR_RGB, DEFAULT_COLOURS, DEFAULT_KINDS, Rng, parseCellName, randomScene, sceneCaption } from '../../lib/data';
import { cellCentrePixel, renderScene } from '../../lib/data/render';
import { TEST_SEED, seedNote } from '../helpers/random';

test(`one line per cell in reading order, "cell: colour kind" or "cell: empty", matching the pixels ${seedNote}`, () => {
  const rng = Rng.derive(TEST_SEED, 'caption');
  for (let t = 0; t < 40; t++) {
    const grid = 2 + rng.int(4);
    const scene = randomScene(rng, { grid, count: 1 + rng.int(grid * grid - 1), kinds: DEFAULT_KINDS, colours: DEFAULT_COLOURS, sizeRange: [0.75, 0.75] });
    const img = renderScene(scene, 16 * grid);
    const lines = sceneCaption(scene).split('\n');
    expect(lines).toHaveLength(grid * grid);
    lines.forEach((line, i) => {
      const [cell, what] = line.split(': ');
      expect(parseCellName(grid, cell)).toEqual({ row: Math.floor(i / grid), col: i % grid });
      const o = scene.objects.find((x) => x.row === Math.floor(i / grid) && x.col === i % grid);
      expect(what).toBe(o ? `${o.colour} ${o.kind}` : 'empty');
      if (o) {
        // Every shape covers its cell's centre: the caption names the colour drawn there.
        const { x, y } = cellCentrePixel(16 * grid, grid, o.row, o.col);
        const px = Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
        expect(px).toEqual([...COLOUR_RGB[o.colour]]);
      }
    });
  }
});
