/**
 * Scene -> RGB pixels -> PNG. The rasteriser is plain arithmetic (no Math.sin
 * or canvas), so a scene renders to the same bytes everywhere; sharp only
 * encodes and decodes PNG.
 */
import sharp from 'sharp';
import { COLOUR_RGB, Scene, SceneObject, validateScene } from './scene';

// Local bindings: inside a vm context (jest) every global lookup such as `Math` in a hot loop is
// ~100x slower than in plain Node; module-level constants keep tests fast and cost nothing here.
const { abs, floor, min, max, round } = Math;

export interface RgbImage {
  /** Row-major RGB, 3 bytes per pixel. */
  data: Buffer;
  width: number;
  height: number;
}

export interface RenderOptions {
  /** Samples per pixel along each axis for anti-aliasing (default 4). */
  supersample?: number;
  /** Thin lines between cells, so cells can be told apart (default true). */
  gridLines?: boolean;
}

/** Dark, so every palette colour stands out from it. */
export const BACKGROUND_RGB: readonly [number, number, number] = [24, 24, 28];
export const GRID_LINE_RGB: readonly [number, number, number] = [80, 80, 88];

/** The default image side for the built-in model; PREVIEW_SIZE for people. */
export const DEFAULT_IMAGE_SIZE = 48;
export const PREVIEW_SIZE = 240;
export const MIN_IMAGE_SIZE = 8;
export const MAX_IMAGE_SIZE = 4096;

/** Is the point (u, v) of a cell, both in [-1, 1] with v downwards, inside the shape? */
export function insideShape(o: Pick<SceneObject, 'kind' | 'size'>, u: number, v: number): boolean {
  const s = o.size;
  const au = abs(u);
  const av = abs(v);
  switch (o.kind) {
    case 'circle':
      return u * u + v * v <= s * s;
    case 'square':
      // Smaller than the circle's box, so both cover a similar area.
      return au <= 0.85 * s && av <= 0.85 * s;
    case 'triangle':
      // Apex up at (0, -s), base at v = 0.8 s from -s to s.
      return v >= -s && v <= 0.8 * s && au <= (v + s) / 1.8;
    case 'cross': {
      const w = 0.33 * s;
      return (au <= w && av <= s) || (av <= w && au <= s);
    }
    case 'diamond':
      return au + av <= 1.1 * s;
  }
}

export function renderScene(scene: Scene, size: number = DEFAULT_IMAGE_SIZE, options: RenderOptions = {}): RgbImage {
  validateScene(scene);
  if (!Number.isInteger(size) || size < MIN_IMAGE_SIZE || size > MAX_IMAGE_SIZE) {
    throw new RangeError(`size must be an integer in [${MIN_IMAGE_SIZE}, ${MAX_IMAGE_SIZE}], got ${size}`);
  }
  const ss = options.supersample ?? 4;
  if (!Number.isInteger(ss) || ss < 1 || ss > 16) throw new RangeError(`options.supersample must be an integer in [1, 16], got ${ss}`);
  const gridLines = options.gridLines ?? true;
  const g = scene.grid;
  const cell = size / g;
  const lineHalf = max(0.5, size / 192); // ~1 px at 48-96 px, thicker on big previews
  const byCell: (SceneObject | undefined)[] = new Array(g * g).fill(undefined);
  for (const o of scene.objects) byCell[o.row * g + o.col] = o;

  const data = Buffer.alloc(size * size * 3);
  const n = ss * ss;
  const acc = [0, 0, 0];
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      acc[0] = acc[1] = acc[2] = 0;
      for (let sy = 0; sy < ss; sy++) {
        const y = py + (sy + 0.5) / ss;
        const row = min(g - 1, floor(y / cell));
        const v = ((y - row * cell) / cell) * 2 - 1;
        for (let sx = 0; sx < ss; sx++) {
          const x = px + (sx + 0.5) / ss;
          const col = min(g - 1, floor(x / cell));
          const u = ((x - col * cell) / cell) * 2 - 1;
          const o = byCell[row * g + col];
          let rgb: readonly number[];
          if (o && insideShape(o, u, v)) rgb = COLOUR_RGB[o.colour];
          else if (gridLines && onInteriorLine(x, y, cell, g, lineHalf)) rgb = GRID_LINE_RGB;
          else rgb = BACKGROUND_RGB;
          acc[0] += rgb[0];
          acc[1] += rgb[1];
          acc[2] += rgb[2];
        }
      }
      const i = (py * size + px) * 3;
      data[i] = round(acc[0] / n);
      data[i + 1] = round(acc[1] / n);
      data[i + 2] = round(acc[2] / n);
    }
  }
  return { data, width: size, height: size };
}

function onInteriorLine(x: number, y: number, cell: number, g: number, half: number): boolean {
  for (let k = 1; k < g; k++) {
    const at = k * cell;
    if (abs(x - at) < half || abs(y - at) < half) return true;
  }
  return false;
}

/** Pixel at the centre of a cell (always inside any shape drawn there). */
export function cellCentrePixel(size: number, grid: number, row: number, col: number): { x: number; y: number } {
  return { x: floor(((col + 0.5) * size) / grid), y: floor(((row + 0.5) * size) / grid) };
}

/** PNG bytes. Fixed encoder settings, so the same pixels always give the same file. */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  if (img === null || typeof img !== 'object') throw new TypeError('img must be an RgbImage { data, width, height }');
  for (const k of ['width', 'height'] as const) {
    const v = img[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 16384)
      throw new RangeError(`img.${k} must be an integer from 1 to 16384, got ${String(v)}`);
  }
  if (Object.prototype.toString.call(img.data) !== '[object Uint8Array]') throw new TypeError('img.data must be a Uint8Array of RGB bytes');
  if (img.data.length !== img.width * img.height * 3)
    throw new RangeError(`img.data has ${img.data.length} bytes; ${img.width} x ${img.height} RGB needs ${img.width * img.height * 3}`);
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/** Decodes any image sharp reads to RGB (alpha dropped). */
export async function decodeImage(bytes: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new RangeError(`expected an RGB image, got ${info.channels} channels`);
  return { data, width: info.width, height: info.height };
}

export async function renderScenePng(scene: Scene, size: number = DEFAULT_IMAGE_SIZE, options?: RenderOptions): Promise<Buffer> {
  return encodePng(renderScene(scene, size, options));
}
