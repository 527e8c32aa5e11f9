/** lib/train/README.md's configuration table is the one `npm run docs:config` writes from the settings. */
import * as fs from 'fs';
import * as path from 'path';
import { END, configTable, withConfigTable } from '../../scripts/docs-config';
import { settingRows } from '../../lib/train/config';

test('the README lists every setting as lib/train/config.ts declares it (else: npm run docs:config)', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'train', 'README.md'), 'utf8');
  expect(withConfigTable(readme)).toBe(readme);
  // The table has a row for each setting and section, so a stale README cannot pass by accident.
  expect(configTable().split('\n')).toHaveLength(settingRows().length + 2);
  expect(readme).toContain('| `rl.lr` |');
  expect(() => withConfigTable(readme.replace(END, ''))).toThrow(/markers/);
});
