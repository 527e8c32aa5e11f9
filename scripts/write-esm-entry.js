// Writes dist/lib/index.mjs, the ES-module entry: it re-exports the CommonJS
// build, so `import` and `require` share one instance of the native addon.
const fs = require('fs');
const path = require('path');

const dist = path.join(__dirname, '..', 'dist', 'lib');
const cjs = require(path.join(dist, 'index.js'));
const names = Object.keys(cjs).filter((k) => k !== 'default' && k !== '__esModule');
const body =
  "import cjs from './index.js';\n" +
  names.map((n) => `export const ${n} = cjs.${n};`).join('\n') +
  '\nexport default cjs;\n';
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
