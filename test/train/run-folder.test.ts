/**
 * The run folder's rules (lib/train/run-folder.ts, issue 18): one trainer per folder (a lock with the owner's
 * pid; stale locks taken over), no training into a foreign non-empty folder without --force, --resume only of a
 * run, and the clean-up of temporaries left by killed processes (only ours, only stale).
 */
import { type ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readMetrics } from '../../lib/train/metrics';
import { LOCK_FILE, RunFolderError, acquireLock, assertLockHeld, cleanStaleTemps, openRunFolder, processAlive, tempOwner } from '../../lib/train/run-folder';

const RUNNER = path.join(__dirname, 'helpers', 'run-cli.js');
jest.setTimeout(120_000);

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-runfolder-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited (so certainly not alive, unless reused in the meantime). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function writeLock(dir: string, info: Record<string, unknown>): void {
  fs.writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ host: os.hostname(), start: null, token: 'feedfacefeedface', since: '2020-01-01T00:00:00.000Z', ...info }),
  );
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process: the process, and its exit code and output once it ends. */
function cliProcess(args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<CliResult>((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

const cli = (args: string[]): Promise<CliResult> => cliProcess(args).done;

describe('the lock', () => {
  test('one holder at a time; released only by its holder', () => {
    const a = acquireLock(root);
    const held = JSON.parse(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8'));
    expect(held).toMatchObject({ pid: process.pid, host: os.hostname(), token: a.token });
    // A second lock in the same (live) process is refused too: the owner is alive.
    expect(() => acquireLock(root)).toThrow(RunFolderError);
    expect(() => acquireLock(root)).toThrow(new RegExp(`is in use by another run \\(trainer pid ${process.pid} on .*remove .*run\\.lock`));
    assertLockHeld(root);
    a.release();
    a.release(); // idempotent
    expect(fs.existsSync(path.join(root, LOCK_FILE))).toBe(false);
    const b = acquireLock(root);
    a.release(); // not a's lock any more: stays
    expect(fs.existsSync(path.join(root, LOCK_FILE))).toBe(true);
    b.release();
    // No private copies are left next to it.
    expect(fs.readdirSync(root)).toEqual([]);
  });

  test('a lock whose process is gone is taken over; one of a live process, of another host or unreadable is not', () => {
    writeLock(root, { pid: deadPid() });
    const a = acquireLock(root);
    expect(JSON.parse(fs.readFileSync(path.join(root, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    a.release();

    // A live process (this one's parent, say) holds it.
    writeLock(root, { pid: process.ppid });
    expect(() => acquireLock(root)).toThrow(new RegExp(`trainer pid ${process.ppid}`));
    // A pid that now belongs to another process than the one that wrote the lock (start times differ): stale.
    writeLock(root, { pid: process.ppid, start: 'not-its-start-time' });
    if (fs.existsSync(`/proc/${process.ppid}/stat`)) acquireLock(root).release();
    // Another host: its processes cannot be checked from here.
    writeLock(root, { pid: deadPid(), host: 'some-other-host' });
    expect(() => acquireLock(root)).toThrow(/on some-other-host/);
    fs.writeFileSync(path.join(root, LOCK_FILE), 'garbage');
    expect(() => acquireLock(root)).toThrow(/an unreadable lock.*remove/);
    fs.rmSync(path.join(root, LOCK_FILE));
    expect(fs.readdirSync(root)).toEqual([]);
  });

  test('assertLockHeld stops a writer whose lock was taken over', () => {
    const a = acquireLock(root);
    writeLock(root, { pid: process.ppid });
    expect(() => assertLockHeld(root)).toThrow(/run lock is now held by pid/);
    a.release();
    fs.rmSync(path.join(root, LOCK_FILE));
    expect(() => assertLockHeld(root)).not.toThrow(); // no lock at all: library use
  });

  test('processAlive', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
    expect(processAlive(-1)).toBe(false);
  });
});

describe('opening a run folder', () => {
  const dir = () => path.join(root, 'run');

  test('--resume needs an existing run; nothing is created when it is refused', () => {
    expect(() => openRunFolder(dir(), { resume: true })).toThrow(new RunFolderError(`--resume: ${dir()} does not exist; start a new run without --resume`));
    expect(fs.existsSync(dir())).toBe(false);
    fs.mkdirSync(dir());
    fs.writeFileSync(path.join(dir(), 'metrics.jsonl'), '');
    expect(() => openRunFolder(dir(), { resume: true })).toThrow(/is not a run folder \(no config.json\)/);
    fs.writeFileSync(path.join(dir(), 'config.json'), '{}');
    const f = openRunFolder(dir(), { resume: true });
    f.release();
  });

  test('a new run: missing or empty folder; a foreign non-empty one only with force; never over a run', () => {
    openRunFolder(dir(), { resume: false }).release();
    expect(fs.readdirSync(dir())).toEqual([]);
    fs.mkdirSync(path.join(dir(), 'model'));
    fs.writeFileSync(path.join(dir(), 'model', 'important.txt'), 'x');
    expect(() => openRunFolder(dir(), { resume: false })).toThrow(/is not empty and is not a run of stable-reinforce \(it holds model\).*--force/);
    expect(fs.existsSync(path.join(dir(), LOCK_FILE))).toBe(false); // the refusal gave the lock back
    openRunFolder(dir(), { resume: false, force: true }).release();
    fs.writeFileSync(path.join(dir(), 'config.json'), '{}');
    expect(() => openRunFolder(dir(), { resume: false, force: true })).toThrow(/already holds a run \(config.json\); continue it with --resume/);
    fs.writeFileSync(path.join(root, 'file'), 'x');
    expect(() => openRunFolder(path.join(root, 'file'), { resume: false })).toThrow(/exists and is not a folder/);
  });

  test('a folder holding only what a killed run left (its stale lock, temporaries) counts as empty, and is cleaned', () => {
    fs.mkdirSync(dir());
    const dead = deadPid();
    writeLock(dir(), { pid: dead });
    fs.writeFileSync(path.join(dir(), `.config.json.tmp-${dead}-abc123`), '{');
    const f = openRunFolder(dir(), { resume: false });
    expect(f.cleaned.map((p) => path.basename(p))).toEqual([`.config.json.tmp-${dead}-abc123`]);
    f.release();
    expect(fs.readdirSync(dir())).toEqual([]);
  });
});

describe('temporaries of killed processes', () => {
  test('only our names, only when their writer is gone; a model cut between two renames comes back', () => {
    const dead = deadPid();
    const live = process.pid;
    const files = [
      `.config.json.tmp-${dead}-k3j2`,
      `.summary.json.tmp-${live}-zz9`, // a live writer: kept
      `model.tmp-${dead}/model.safetensors`,
      `stage1-model.old-${dead}/config.json`, // stage1-model exists: the old copy is garbage
      `model.old-${live}/config.json`,
      `checkpoints/.tmp-000003-sft-000004-${dead}/state.json`,
      `checkpoints/.del-000001-sft-000002-${dead}/state.json`,
      `checkpoints/.old-stage1-end-${dead}/state.json`, // the layout before sequence numbers
      `checkpoints/000002-sft-000002/model/.model.safetensors.tmp-${dead}-q`,
      `evals/.stage1.json.tmp-${dead}-1`,
      `.run.lock.${dead}.0123abcd`,
      `.run.lock.stale-${dead}`,
      'stage1-model/config.json',
      // Not ours, whatever their pid: kept.
      `notes.tmp-${dead}`,
      `.hidden.tmp-${dead}`,
      `data/images/.x.png.tmp-${dead}-a`, // image folders are not walked
      `mine/.tmp-thing`,
    ];
    for (const f of files) {
      fs.mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'x');
    }
    const removed = cleanStaleTemps(root)
      .map((p) => path.relative(root, p))
      .sort();
    expect(removed).toEqual(
      [
        `.config.json.tmp-${dead}-k3j2`,
        `.run.lock.${dead}.0123abcd`,
        `.run.lock.stale-${dead}`,
        `checkpoints/.del-000001-sft-000002-${dead}`,
        `checkpoints/.old-stage1-end-${dead}`,
        `checkpoints/.tmp-000003-sft-000004-${dead}`,
        `checkpoints/000002-sft-000002/model/.model.safetensors.tmp-${dead}-q`,
        `evals/.stage1.json.tmp-${dead}-1`,
        `model.tmp-${dead}`,
        `stage1-model.old-${dead}`,
      ].sort(),
    );
    for (const kept of [
      `.summary.json.tmp-${live}-zz9`,
      `model.old-${live}`,
      `notes.tmp-${dead}`,
      `.hidden.tmp-${dead}`,
      `data/images/.x.png.tmp-${dead}-a`,
      'mine/.tmp-thing',
    ]) {
      expect(fs.existsSync(path.join(root, kept))).toBe(true);
    }

    // `model` missing and `model.old-PID` of a dead writer: the kill came between the two renames.
    fs.rmSync(path.join(root, `model.old-${live}`), { recursive: true });
    fs.mkdirSync(path.join(root, `model.old-${dead}`));
    fs.writeFileSync(path.join(root, `model.old-${dead}`, 'config.json'), 'previous');
    cleanStaleTemps(root);
    expect(fs.readFileSync(path.join(root, 'model', 'config.json'), 'utf8')).toBe('previous');
    expect(tempOwner('model.old-12')).toBe(12);
    expect(tempOwner('model.old-x')).toBeNull();
  });
});

describe('through the command line (the issue 18 repros)', () => {
  test('two trainers on one --out: the second is refused, the first finishes with every step logged once', async () => {
    const out = path.join(root, 'run');
    const first = cliProcess(['train', '--preset', 'smoke', '--out', out, '--quiet']);
    // Once the first has written its config (its lock is taken before that), it is paused while the second tries
    // the folder: a smoke run takes ~2 s, less than starting the second (transpiling the sources) on a loaded
    // machine, so without the pause the first could be done before the second looks.
    for (let i = 0; i < 24000 && !fs.existsSync(path.join(out, 'config.json')); i++) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGSTOP');
    let second: CliResult;
    try {
      second = await cli(['train', '--resume', '--out', out, '--quiet']);
    } finally {
      first.child.kill('SIGCONT');
    }
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/is in use by another run \(trainer pid \d+/);
    const a = await first.done;
    expect(a.code).toBe(0);
    const steps = readMetrics(path.join(out, 'metrics.jsonl')).map((l) => l.globalStep);
    expect(steps).toEqual(steps.map((_, i) => i + 1));
    expect(fs.existsSync(path.join(out, LOCK_FILE))).toBe(false);
  });

  test('a foreign folder is refused without --force and its files kept; --resume of a missing folder is an error', async () => {
    const d = path.join(root, 'd');
    fs.mkdirSync(path.join(d, 'model'), { recursive: true });
    fs.writeFileSync(path.join(d, 'model', 'important.txt'), 'x');
    const r = await cli(['train', '--preset', 'smoke', '--out', d, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not empty and is not a run of stable-reinforce.*--force/);
    expect(fs.readFileSync(path.join(d, 'model', 'important.txt'), 'utf8')).toBe('x');
    const missing = path.join(root, 'missing');
    const m = await cli(['train', '--resume', '--out', missing, '--quiet']);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/--resume: .*missing does not exist/);
    expect(fs.existsSync(missing)).toBe(false);
    // A corrupt config.json on --resume names the file.
    fs.mkdirSync(path.join(root, 'corrupt'));
    fs.writeFileSync(path.join(root, 'corrupt', 'config.json'), '{"preset": "smoke",');
    const c = await cli(['train', '--resume', '--out', path.join(root, 'corrupt'), '--quiet']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--resume: .*corrupt\/config\.json is not a readable run configuration/);
  });
});
