/**
 * Image input of the built-in model. An image is one of:
 *  - a file path (string) or a Buffer holding a PNG or JPEG file: decoded and
 *    resized (stretched, no crop) to imageSize x imageSize with sharp, alpha
 *    flattened on white, grey expanded to RGB;
 *  - a plain Uint8Array (not a Buffer) of imageSize * imageSize * 3 bytes: raw
 *    RGB pixels, row-major, channels interleaved (HWC);
 *  - a Float32Array of the same length: raw RGB in [0, 1] (NaN or infinite values are a RangeError).
 * Pixels are normalised per channel as (v - mean) / std on values in [0, 1] (the model config's imageMean and
 * imageStd; the defaults 0.5 / 0.5 give [-1, 1]).
 */
import sharp from 'sharp';
import type { Rgb } from './config';

export interface PixelNorm {
  mean: Rgb;
  std: Rgb;
}

/** [0, 1] -> [-1, 1]: the default of the model config. */
export const UNIT_RANGE_NORM: PixelNorm = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

export type ImageInput = string | Buffer | Uint8Array | Float32Array;

export async function loadImage(image: ImageInput, size: number, what: string, norm: PixelNorm = UNIT_RANGE_NORM): Promise<Float32Array> {
  const n = size * size * 3;
  const tag = Object.prototype.toString.call(image); // instanceof fails across realms
  if (tag === '[object Float32Array]') {
    image = image as Float32Array;
    if (image.length !== n) {
      throw new RangeError(`${what} has ${image.length} values; a raw image must be ${size} x ${size} x 3 = ${n} RGB values`);
    }
    // NaN or infinite pixels are an error (not a warning): they would turn every output of the model into NaN.
    const f = image as Float32Array;
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i])) throw new RangeError(`${what}[${i}] is ${f[i]}: raw pixels must be finite (RGB values in [0, 1])`);
    }
    return normalise(f, 1, norm);
  }
  if (tag === '[object Uint8Array]' && !Buffer.isBuffer(image)) {
    if (image.length !== n) {
      throw new RangeError(
        `${what} has ${image.length} bytes; a raw image must be ${size} x ${size} x 3 = ${n} RGB bytes (pass a Buffer for an encoded PNG/JPEG)`,
      );
    }
    return normalise(image as Uint8Array, 1 / 255, norm);
  }
  if (typeof image !== 'string' && !Buffer.isBuffer(image)) {
    throw new TypeError(`${what} must be a PNG/JPEG file path or Buffer, or raw RGB pixels (Uint8Array/Float32Array)`);
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(image).metadata();
  } catch (e) {
    throw new TypeError(`${what} could not be read as an image (${typeof image === 'string' ? image : 'Buffer'}): ${(e as Error).message}`);
  }
  if (meta.format !== 'png' && meta.format !== 'jpeg') {
    throw new TypeError(`${what} is ${meta.format ?? 'of an unknown format'}; PNG or JPEG expected`);
  }
  const { data, info } = await sharp(image)
    .flatten({ background: '#ffffff' })
    .resize(size, size, { fit: 'fill' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return normalise(data, 1 / 255, norm);
  // Greyscale stays one channel in some libvips paths: expand it.
  const rgb = new Uint8Array(n);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * info.channels + Math.min(c, info.channels - 1)];
  return normalise(rgb, 1 / 255, norm);
}

/** Interleaved RGB values times `scale` (to [0, 1]) -> (v - mean) / std per channel. */
function normalise(px: ArrayLike<number>, scale: number, norm: PixelNorm): Float32Array {
  const out = new Float32Array(px.length);
  const mul = norm.std.map((s) => scale / s);
  const add = norm.mean.map((m, c) => -m / norm.std[c]);
  for (let i = 0; i < px.length; i += 3) {
    for (let c = 0; c < 3; c++) out[i + c] = px[i + c] * mul[c] + add[c];
  }
  return out;
}

/** Per-channel mean and standard deviation, on [0, 1], of raw RGB images (interleaved bytes); std floored at 1/255. */
export function pixelStatistics(images: Iterable<Uint8Array>): PixelNorm {
  const s1 = [0, 0, 0];
  const s2 = [0, 0, 0];
  let n = 0;
  for (const im of images) {
    for (let i = 0; i + 2 < im.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = im[i + c] / 255;
        s1[c] += v;
        s2[c] += v * v;
      }
      n++;
    }
  }
  if (n === 0) throw new RangeError('pixelStatistics needs at least one pixel');
  const mean = s1.map((x) => x / n);
  const std = s2.map((x, c) => Math.max(1 / 255, Math.sqrt(Math.max(0, x / n - mean[c] * mean[c]))));
  return { mean: [mean[0], mean[1], mean[2]], std: [std[0], std[1], std[2]] };
}
