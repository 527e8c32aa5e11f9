/**
 * bench/RESULTS.md is shared by several benchmark scripts: each owns one
 * section between markers and replaces only that section on every run.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const RESULTS_FILE = path.join(__dirname, '..', '..', '..', 'bench', 'RESULTS.md');

const HEADER =
  '# Benchmark results\n\n' +
  'Written by the benchmark scripts (`npm run bench`, `npm run bench:model`, `npm run bench:serve`, ...). ' +
  'Each section says when, where and with which command its numbers were measured. Times are medians.\n';

export function writeSection(id: string, markdown: string, file = RESULTS_FILE): void {
  const begin = `<!-- section:${id} -->`;
  const end = `<!-- /section:${id} -->`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : HEADER;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** CPU model, cores, memory, OS: the "where" of a result. */
export function machineDescription(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim() ?? 'unknown CPU';
  return `${model}, ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The markdown of section `id` (between its markers), or undefined when the file or the section is missing. */
export function readSection(id: string, file = RESULTS_FILE): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, 'utf8');
  const begin = `<!-- section:${id} -->`;
  const end = `<!-- /section:${id} -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  return i >= 0 && j > i ? text.slice(i + begin.length, j) : undefined;
}
