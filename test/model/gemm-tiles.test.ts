/**
 * The CUDA GEMM's tiling and index arithmetic (native/model/ops/matmul/gemm_tiles.h), checked on the host
 * without a GPU: test/model/native/gemm_tiles_test.cpp runs it thread by thread with WMMA emulated from its
 * documented semantics, for every transposition and precision and many sizes that are not multiples of the
 * tiles. Needs g++ (skipped, and listed as skipped, without it). The tensor-core instructions themselves are
 * covered by the GPU tests (model-matmul.test.ts, cuda-model.test.ts).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { tempDir } from './helpers';

const gxx = spawnSync('g++', ['--version'], { encoding: 'utf8' });
const HAVE_GXX = gxx.status === 0;
const maybe = HAVE_GXX ? test : test.skip;
if (!HAVE_GXX) test.skip('skipped: g++ not found (needed to build the host emulation)', () => undefined);

maybe(
  'host emulation of the tensor-core GEMM: loads, shared-memory layout, fragments, epilogue, TF32 and 3xTF32 error',
  () => {
    const root = path.join(__dirname, '..', '..');
    const exe = path.join(tempDir('gemm'), 'gemm_tiles_test');
    const src = path.join(__dirname, 'native', 'gemm_tiles_test.cpp');
    const build = spawnSync('g++', ['-std=c++17', '-O2', '-Wall', '-Wextra', '-Werror', '-I', path.join(root, 'native'), src, '-o', exe], {
      encoding: 'utf8',
    });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 120000 });
    expect(run.stdout).toMatch(/\nok\n$/);
    expect(run.status).toBe(0);
  },
  180000,
);
