#!/usr/bin/env node
/**
 * Runs a TypeScript file in a child process, transpiled on require (no build needed):
 *   node test/helpers/ts-run.js path/to/file.ts [args...]
 */
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  });
  module._compile(outputText, filename);
};

const file = path.resolve(process.argv[2]);
process.argv.splice(1, 2, file);
require(file);
