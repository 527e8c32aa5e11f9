#!/usr/bin/env node
// `npm run build:prebuilds` (also npm's prepack step): produces
// prebuilds/<platform>-<arch>/stable-reinforce.glibc.node for the npm tarball, so that installing it needs no compiler. prebuildify
// names, strips and places the binary; the build itself is cmake-js (CUDA
// compiled in when nvcc is present, static runtime) through a node-gyp-shaped
// shim, since prebuildify drives node-gyp.
'use strict';
const path = require('path');
const prebuildify = require('prebuildify');

const root = path.resolve(__dirname, '..');
prebuildify(
  { cwd: root, napi: true, strip: true, tagLibc: true, targets: [process.versions.node], nodeGyp: path.join(__dirname, 'cmake-js-as-node-gyp.js') },
  (err) => {
    if (err) {
      console.error(`build:prebuilds failed: ${err.message}`);
      process.exit(1);
    }
    console.log(`wrote prebuilds/${process.platform}-${process.arch}/`);
  },
);
