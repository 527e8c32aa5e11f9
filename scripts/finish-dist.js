// Finishes dist/ after tsc:
// - dist/lib/index.mjs, the ES-module entry: it re-exports the CommonJS build, so
//   `import` and `require` share one instance of the native addon;
// - the CLI entry (package.json "bin") made executable: tsc writes files without
//   the x bit, and `npx stable-reinforce` in a clone runs the file directly.
const fs = require('fs');
const path = require('path');

const dist = path.join(__dirname, '..', 'dist', 'lib');
const cjs = require(path.join(dist, 'index.js'));
const names = Object.keys(cjs).filter((k) => k !== 'default' && k !== '__esModule');
const body = "import cjs from './index.js';\n" + names.map((n) => `export const ${n} = cjs.${n};`).join('\n') + '\nexport default cjs;\n';
fs.writeFileSync(path.join(dist, 'index.mjs'), body);

fs.chmodSync(path.join(dist, 'cli', 'main.js'), 0o755);
