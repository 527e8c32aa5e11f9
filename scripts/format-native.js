// Formats the C++/CUDA sources (native/, and the host tests under test/) with the clang-format binary that
// the `clang-format` dev dependency ships, in the style of .clang-format. With --check it changes nothing
// and fails, naming them, when some file is not formatted.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { getNativeBinary } = require('clang-format');

const root = path.join(__dirname, '..');
const SOURCE = /\.(h|cpp|cuh|cu)$/;

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (SOURCE.test(e.name)) out.push(path.relative(root, p));
  }
  return out;
}

const files = [...walk(path.join(root, 'native'), []), ...walk(path.join(root, 'test'), [])].sort();
const check = process.argv.includes('--check');
const args = check ? ['--dry-run', '--Werror', '--style=file'] : ['-i', '--style=file'];
const r = spawnSync(getNativeBinary(), [...args, ...files], { cwd: root, stdio: 'inherit' });
if (r.error) throw r.error;
if (check && r.status !== 0) console.error('C++/CUDA sources are not formatted: run `npm run format:native`');
process.exit(r.status ?? 1);
