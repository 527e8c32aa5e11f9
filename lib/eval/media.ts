/** Turning images and videos into the data URLs an OpenAI-compatible endpoint accepts. */
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { MediaRef } from './types';

const BY_EXT: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.avi': 'video/x-msvideo',
  '.mkv': 'video/x-matroska',
};

/** The MIME type from the first bytes, else from the extension. */
export function sniffMime(bytes: Uint8Array, name = ''): string {
  if (Object.prototype.toString.call(bytes) !== '[object Uint8Array]') throw new TypeError('bytes must be a Uint8Array (or a Buffer)');
  if (typeof name !== 'string') throw new TypeError('name must be a string');
  const b = bytes;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'image/bmp';
  if (b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) return 'video/mp4';
  return BY_EXT[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export function bytesToDataUrl(bytes: Uint8Array, name = ''): string {
  return `data:${sniffMime(bytes, name)};base64,${Buffer.from(bytes).toString('base64')}`;
}

/** A URL for the request: data:/http(s): URLs as they are, files read and base64-encoded. */
export async function mediaUrl(media: MediaRef): Promise<string> {
  if (media.url) return media.url;
  if (!media.path) throw new TypeError('media needs a path or a url');
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(media.path);
  } catch (error) {
    throw new Error(`cannot read ${media.kind} ${media.path}: ${(error as Error).message}`);
  }
  return bytesToDataUrl(bytes, media.path);
}
