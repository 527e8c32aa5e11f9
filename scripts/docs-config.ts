/**
 * `npm run docs:config`: writes the configuration table of lib/train/README.md (between its two markers) from
 * the settings declared in lib/train/config.ts and the presets in lib/train/presets.ts.
 * test/train/config-docs.test.ts fails when the README's table is not what this writes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { settingRows } from '../lib/train/config';
import { PRESETS, PRESET_NAMES } from '../lib/train/presets';

export const BEGIN = '<!-- settings:begin (written by `npm run docs:config` from lib/train/config.ts; do not edit) -->';
export const END = '<!-- settings:end -->';

const cell = (s: string) => s.replace(/\|/g, '\\|');
const code = (v: unknown) => (v === undefined ? '' : `\`${cell(JSON.stringify(v))}\``);

function presetValue(preset: string, dotted: string): unknown {
  let v: unknown = PRESETS[preset];
  for (const k of dotted.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** The table: one row per section and per setting, with the presets' overrides. */
export function configTable(): string {
  const head = ['setting', 'value', 'default', ...PRESET_NAMES, 'meaning'];
  const rows = settingRows().map((r) =>
    r.section
      ? [`**${r.path}**`, '', '', ...PRESET_NAMES.map(() => ''), cell(r.doc)]
      : [`\`${r.path}\``, cell(r.range!), code(r.default), ...PRESET_NAMES.map((p) => code(presetValue(p, r.path))), cell(r.doc)],
  );
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** `readme` with the text between the markers replaced by the table. */
export function withConfigTable(readme: string): string {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b < 0 || e < b) throw new Error(`lib/train/README.md lacks the markers ${BEGIN} ... ${END}`);
  return `${readme.slice(0, b + BEGIN.length)}\n${configTable()}\n${readme.slice(e)}`;
}

if (require.main === module) {
  const file = path.resolve('lib', 'train', 'README.md');
  const before = fs.readFileSync(file, 'utf8');
  const after = withConfigTable(before);
  if (after !== before) fs.writeFileSync(file, after);
  process.stdout.write(`${file}: ${after === before ? 'up to date' : 'configuration table written'}\n`);
}
