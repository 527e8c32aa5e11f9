#!/usr/bin/env node
// Called by prebuildify as if it were `node-gyp rebuild ...`: builds with
// cmake-js into build/Release instead (node-gyp's arguments are ignored).
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = [require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--log-level', 'warn'];
if (process.env.SR_CUDA) args.push(`--CDSR_CUDA=${process.env.SR_CUDA}`);
if (process.env.SR_CUDA_ARCHS) args.push(`--CDSR_CUDA_ARCHS=${process.env.SR_CUDA_ARCHS}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
