// Prints OpenBLAS's include folder (--include) or link flags (--libs) for
// binding.gyp; exits with a message naming the package to install when absent.
// CMakeLists.txt does the same search for the main build.
const fs = require('fs');
const { execSync } = require('child_process');

function pkgConfig(flags) {
  try {
    return execSync(`pkg-config ${flags} openblas`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}

const includeCandidates = [];
const libCandidates = [];
const inc = pkgConfig('--cflags-only-I');
if (inc) includeCandidates.push(...inc.split(/\s+/).filter(Boolean).map((s) => s.replace(/^-I/, '')));
const libDir = pkgConfig('--libs-only-L');
if (libDir) libCandidates.push(...libDir.split(/\s+/).filter(Boolean).map((s) => s.replace(/^-L/, '')));
for (const arch of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
  for (const v of ['openblas-pthread', 'openblas-openmp', 'openblas-serial']) {
    includeCandidates.push(`/usr/include/${arch}/${v}`);
    libCandidates.push(`/usr/lib/${arch}/${v}`);
  }
  libCandidates.push(`/usr/lib/${arch}`);
}
includeCandidates.push('/usr/include/openblas', '/usr/include', '/usr/local/include', '/opt/OpenBLAS/include');
libCandidates.push('/usr/lib64', '/usr/lib', '/usr/local/lib', '/opt/OpenBLAS/lib');

const incDir = includeCandidates.find((d) => fs.existsSync(`${d}/cblas.h`));
const lib = libCandidates.find((d) => fs.existsSync(`${d}/libopenblas.so`) || fs.existsSync(`${d}/libopenblas.a`));
if (!incDir || !lib) {
  process.stderr.write(
    'stable-reinforce: OpenBLAS was not found (cblas.h and libopenblas). The built-in model needs it: ' +
      'on Debian/Ubuntu run `apt-get install libopenblas-dev`.\n',
  );
  process.exit(1);
}
console.log(process.argv.includes('--include') ? incDir : `-L${lib} -lopenblas -Wl,-rpath,${lib}`);
