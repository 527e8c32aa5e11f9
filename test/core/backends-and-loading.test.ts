import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backends, resolveDevice } from '../../lib';

const root = path.join(__dirname, '..', '..');

describe('backends()', () => {
  test('reports the CPU and what CUDA can do', () => {
    const b = backends();
    expect(b.cpu.available).toBe(true);
    expect(b.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(typeof b.cuda.compiled).toBe('boolean');
    expect(typeof b.cuda.usable).toBe('boolean');
    if (b.cuda.usable) {
      expect(b.cuda.name).toBeTruthy();
      expect(b.cuda.totalMemory).toBeGreaterThan(0);
      expect(b.cuda.computeCapability).toMatch(/^\d+\.\d+$/);
    } else {
      expect(b.cuda.reason).toBeTruthy();
    }
  });
  test('resolveDevice', () => {
    expect(resolveDevice('cpu')).toBe('cpu');
    expect(['cpu', 'cuda']).toContain(resolveDevice('auto'));
    expect(() => resolveDevice('gpu' as never)).toThrow(TypeError);
    if (!backends().cuda.usable) expect(() => resolveDevice('cuda')).toThrow(/not usable/);
  });
});

describe('loading', () => {
  test('require and import give the same API', () => {
    const script = `import sr from 'stable-reinforce'; import { kernels, Tensor } from 'stable-reinforce';
      const r = kernels.preClipRatio(Tensor.from([-0.1]), Tensor.from([-10]));
      console.log(JSON.stringify({ same: sr.Tensor === Tensor, v: r.toArray()[0], cjs: typeof (await import('module')).createRequire(import.meta.url)('stable-reinforce').backends }));`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-esm-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'stable-reinforce'));
    fs.writeFileSync(path.join(dir, 'main.mjs'), script);
    const r = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.same).toBe(true);
    expect(out.v).toBeCloseTo(1000, 1);
    expect(out.cjs).toBe('function');
  });

  test('when no binary loads, the error lists every place tried and the fix', () => {
    // A copy of the compiled package with no build/ and no prebuilds/.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-nobin-'));
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    const r = spawnSync(process.execPath, ['-e', "require('./dist/lib/index.js').backends()"], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, STABLE_REINFORCE_NATIVE: path.join(dir, 'missing.node') },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/could not load the native addon/);
    expect(r.stderr).toMatch(/STABLE_REINFORCE_NATIVE: .*missing\.node does not exist/);
    expect(r.stderr).toMatch(/local build: .*build\/Release\/stable_reinforce\.node does not exist/);
    expect(r.stderr).toMatch(/prebuilt binary: /);
    expect(r.stderr).toMatch(/npm run build:native/);
  });

  test('a corrupt binary is reported with its load error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-bad-'));
    const bad = path.join(dir, 'bad.node');
    fs.writeFileSync(bad, 'not an ELF file');
    const r = spawnSync(process.execPath, ['-e', "require('./dist/lib/index.js'); require('./dist/lib/native/loader.js').loadNative()"], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, STABLE_REINFORCE_NATIVE: bad },
    });
    // The override fails, then the local build is used: the failure is skipped over, not fatal.
    expect(r.status).toBe(0);
  });
});
