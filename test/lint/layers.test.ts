/**
 * The lint step's import rules (eslint.config.mjs) catch what they are meant to: an import from a higher layer,
 * an import of the package entry, and a cycle; and let a downward import pass. ESLint runs in a child process
 * (it loads its ESM config with import(), which Jest's module system does not offer).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

/** file (as if in the tree) -> source text; the fixtures' cycle is linted from disk. */
const CASES: Record<string, string> = {
  'lib/model/upward-fixture.ts': "import { DEFAULTS } from '../train/config';\nexport const x = DEFAULTS;\n",
  'lib/train/upward-fixture.ts': "import { ProgressBar } from '../cli/progress';\nexport const x = ProgressBar;\n",
  'lib/eval/upward-fixture.ts': "import { readRows } from '../data/io';\nexport const x = readRows;\n",
  'lib/kernels/entry-fixture.ts': "import { Tensor } from '..';\nexport const x = Tensor;\n",
  'lib/train/downward-fixture.ts':
    "import { resolveConfig } from '../model/config';\nimport { Tensor } from '../tensor';\nexport const x = [resolveConfig, Tensor];\n",
};

const SCRIPT = `
import { ESLint } from 'eslint';
const cases = JSON.parse(process.argv[1]);
const eslint = new ESLint({ cwd: process.cwd(), ignore: false });
const out = {};
for (const [file, text] of Object.entries(cases)) {
  const [r] = await eslint.lintText(text, { filePath: file });
  out[file] = r.messages.map((m) => m.ruleId);
}
for (const r of await eslint.lintFiles(['test/lint/fixtures'])) out[r.filePath] = r.messages.map((m) => m.ruleId);
console.log(JSON.stringify(out));
`;

describe('lint: layers and cycles', () => {
  let found: Record<string, string[]>;
  beforeAll(() => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, JSON.stringify(CASES)], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`eslint failed: ${r.stderr}`);
    found = JSON.parse(r.stdout);
  }, 60_000);

  test.each(['lib/model/upward-fixture.ts', 'lib/train/upward-fixture.ts', 'lib/eval/upward-fixture.ts', 'lib/kernels/entry-fixture.ts'])(
    '%s: an import from a higher layer fails',
    (file) => {
      expect(found[file]).toContain('import-x/no-restricted-paths');
    },
  );

  test('a downward import passes', () => {
    expect(found['lib/train/downward-fixture.ts']).toEqual([]);
  });

  test('an import cycle fails', () => {
    for (const f of ['cycle-a.ts', 'cycle-b.ts']) expect(found[path.join(ROOT, 'test', 'lint', 'fixtures', f)]).toContain('import-x/no-cycle');
  });
});
