#!/usr/bin/env node
// npm install hook: use a binary that loads (local build or prebuilt), else build one.
//   cmake-js + CMakeLists.txt (CUDA compiled in when nvcc is found), else
//   node-gyp + binding.gyp (CPU only) when cmake is missing.
// Flags: --force   rebuild even if a binary loads.
// Environment: SR_CUDA=AUTO|ON|OFF, SR_CUDA_ARCHS="80;90", SR_BUILD_DIR (cmake-js output folder, default build).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');
const failures = [];

function log(msg) {
  process.stderr.write(`stable-reinforce: ${msg}\n`);
}

function loads(file) {
  if (!file || !fs.existsSync(file)) return false;
  // Load in a child process: a binary that crashes on load must not take npm down.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { stdio: 'pipe' });
  if (r.status !== 0) failures.push(`${file} exists but fails to load: ${String(r.stderr).split('\n')[0]}`);
  return r.status === 0;
}

function existingBinary() {
  const local = path.join(root, 'build', 'Release', 'stable_reinforce.node');
  if (loads(local)) return local;
  try {
    const prebuilt = require('node-gyp-build').resolve(root);
    if (loads(prebuilt)) return prebuilt;
  } catch (e) {
    failures.push(`no prebuilt binary: ${e.message.split('\n')[0]}`);
  }
  return null;
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' }).status === 0;
}

function run(cmd, args) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  return r.status === 0;
}

function buildWithCmake() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'compile', '--log-level', 'warn'];
  const out = process.env.SR_BUILD_DIR;
  if (out) args.push('--out', out);
  if (process.env.SR_CUDA) args.push(`--CDSR_CUDA=${process.env.SR_CUDA}`);
  if (process.env.SR_CUDA_ARCHS) args.push(`--CDSR_CUDA_ARCHS=${process.env.SR_CUDA_ARCHS}`);
  if (run(process.execPath, args)) return true;
  failures.push('cmake-js build failed (see the compiler output above)');
  return false;
}

function buildWithNodeGyp() {
  // npm exposes its bundled node-gyp; fall back to one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const ok = gyp ? run(process.execPath, [gyp, 'rebuild']) : which('node-gyp') && run('node-gyp', ['rebuild']);
  if (!ok) failures.push('node-gyp build (CPU only, binding.gyp) failed or node-gyp was not found');
  return ok;
}

function main() {
  if (!force) {
    const found = existingBinary();
    if (found) {
      log(`using ${path.relative(root, found)}`);
      return 0;
    }
  }
  if (which('cmake')) {
    if (buildWithCmake()) return 0;
  } else {
    failures.push('cmake not found on PATH (apt-get install cmake), trying node-gyp for a CPU-only build');
  }
  if (!process.env.SR_BUILD_DIR && buildWithNodeGyp()) return 0;
  log('could not provide a native binary:');
  for (const f of failures) log(`  - ${f}`);
  log('fix: install cmake (>= 3.18) and g++ (apt-get install cmake g++), then run `npm run build:native`;');
  log('     nvcc on PATH (CUDA toolkit) adds the CUDA backend; SR_CUDA=OFF builds the CPU backend only.');
  return 1;
}

process.exit(main());
