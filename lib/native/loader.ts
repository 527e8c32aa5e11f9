/**
 * Finds and loads the native addon. Places tried, in order:
 *   1. the file named by STABLE_REINFORCE_NATIVE (for custom builds),
 *   2. build/Release/stable_reinforce.node (a local build: `npm run build:native`),
 *   3. prebuilds/<platform>-<arch>/ (shipped in the npm package, found by node-gyp-build).
 * When none loads, the error lists every place and why it failed, with the fix.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { NativeAddon } from './types';

export const ADDON_NAME = 'stable_reinforce.node';

/** The package root: the nearest folder above this file with our package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'stable-reinforce') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('stable-reinforce: cannot find the package root above ' + __dirname);
    dir = up;
  }
}

interface Attempt {
  where: string;
  error: string;
}

let cached: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const attempts: Attempt[] = [];
  const tryLoad = (where: string, file: string): NativeAddon | undefined => {
    if (!fs.existsSync(file)) {
      attempts.push({ where, error: `${file} does not exist` });
      return undefined;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file, found at run time
      return require(file) as NativeAddon;
    } catch (e) {
      attempts.push({ where, error: `${file} failed to load: ${(e as Error).message}` });
      return undefined;
    }
  };

  const override = process.env.STABLE_REINFORCE_NATIVE;
  if (override) {
    cached = tryLoad('STABLE_REINFORCE_NATIVE', path.resolve(override));
    if (cached) return cached;
  }
  cached = tryLoad('local build', path.join(root, 'build', 'Release', ADDON_NAME));
  if (cached) return cached;
  try {
    // node-gyp-build also looks in build/ but its main value here is picking the right prebuild.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when no addon was found
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const file = nodeGypBuild.resolve(root);
    cached = tryLoad('prebuilt binary', file);
    if (cached) return cached;
  } catch (e) {
    attempts.push({ where: 'prebuilt binary', error: (e as Error).message.split('\n')[0] });
  }

  const lines = attempts.map((a) => `  - ${a.where}: ${a.error}`).join('\n');
  throw new Error(
    `stable-reinforce: could not load the native addon for ${process.platform}-${process.arch} (Node ${process.version}).\n` +
      `Tried:\n${lines}\n` +
      'Fixes:\n' +
      `  - build it from source: \`npm run build:native\` in ${root} (needs cmake >= 3.18 and g++; ` +
      'on Debian/Ubuntu `apt-get install cmake g++`; nvcc on PATH adds the CUDA backend);\n' +
      '  - without cmake, `npx node-gyp rebuild` builds the CPU-only addon from binding.gyp;\n' +
      '  - prebuilt binaries exist for linux-x64 only: on another platform build from source;\n' +
      '  - a "GLIBC" or "undefined symbol" error means the binary was built elsewhere: rebuild it here.',
  );
}
