/**
 * Image input of the built-in model. An image is one of:
 *  - a file path (string) or a Buffer holding a PNG or JPEG file: decoded and
 *    resized (stretched, no crop) to imageSize x imageSize with sharp, alpha
 *    flattened on white, grey expanded to RGB;
 *  - a plain Uint8Array (not a Buffer) of imageSize * imageSize * 3 bytes: raw
 *    RGB pixels, row-major, channels interleaved (HWC);
 *  - a Float32Array of the same length: raw RGB in [0, 1].
 * Pixels are normalised to [-1, 1] (v / 127.5 - 1, or 2v - 1 for floats).
 */
import sharp from 'sharp';

export type ImageInput = string | Buffer | Uint8Array | Float32Array;

export async function loadImage(image: ImageInput, size: number, what: string): Promise<Float32Array> {
  const n = size * size * 3;
  const tag = Object.prototype.toString.call(image); // instanceof fails across realms
  if (tag === '[object Float32Array]') {
    image = image as Float32Array;
    if (image.length !== n) {
      throw new RangeError(`${what} has ${image.length} values; a raw image must be ${size} x ${size} x 3 = ${n} RGB values`);
    }
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = 2 * image[i] - 1;
    return out;
  }
  if (tag === '[object Uint8Array]' && !Buffer.isBuffer(image)) {
    if (image.length !== n) {
      throw new RangeError(`${what} has ${image.length} bytes; a raw image must be ${size} x ${size} x 3 = ${n} RGB bytes (pass a Buffer for an encoded PNG/JPEG)`);
    }
    return normaliseBytes(image as Uint8Array);
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
  if (info.channels === 3) return normaliseBytes(data);
  // Greyscale stays one channel in some libvips paths: expand it.
  const rgb = new Uint8Array(n);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * info.channels + Math.min(c, info.channels - 1)];
  return normaliseBytes(rgb);
}

function normaliseBytes(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i] / 127.5 - 1;
  return out;
}
