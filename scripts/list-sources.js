// Prints the C++ sources for binding.gyp (node-gyp has no glob): every native/**/*.cpp.
const fs = require('fs');
const path = require('path');

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.cpp')) out.push(path.relative(path.join(__dirname, '..'), p));
  }
  return out;
}
console.log(
  walk(path.join(__dirname, '..', 'native'), [])
    .sort()
    .join(' '),
);
