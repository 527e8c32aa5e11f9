import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backends } from '../../lib/backends';
import { main } from '../../lib/cli/main';
import { effectiveRl, settingRows } from '../../lib/train/config';
import { synthOptions } from '../../lib/train/dataset';
import { PRESETS, resolveTrainConfig } from '../../lib/train/presets';

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} as NodeJS.ProcessEnv },
    out: () => out,
    err: () => err,
  };
}

describe('training configuration', () => {
  test('every preset resolves to a complete, valid configuration', () => {
    for (const name of Object.keys(PRESETS)) {
      const c = resolveTrainConfig(name);
      expect(c.preset).toBe(name);
      expect(c.rl.algo).toBe('stable-reinforce');
      expect(c.difficulty.attempts).toBe(3);
      // the stage-2 regime of docs/research/rl-regime.md
      expect(effectiveRl(c.rl)).toMatchObject({ baseline: 'rloo', dynamicFilter: true });
      expect(c.rl).toMatchObject({ klCoef: 0.05, klEstimator: 'k3', klIn: 'loss', ppoEpochs: 1, rolloutsPerUpdate: null, betas: [0.9, 0.95], weightDecay: 0 });
      expect(c.rl).toMatchObject({ lr: 3e-4, lrWarmup: 0.05, minLrRatio: 0.1, temperature: 1 });
      // guards in the hard pool, drawn uniformly (session 13's demo regime, the default of every preset)
      expect(c.rl).toMatchObject({ easyShare: 0.5, curriculum: 'none', pool: 'hard' });
    }
    const demo = resolveTrainConfig('demo');
    // 128 rollouts per AdamW step; lr 15% of the SFT rate (against a teacher's errors); the demo starts from the shipped backbone
    expect(demo.rl.promptsPerStep * demo.rl.samplesPerPrompt).toBe(128);
    expect(demo.rl.samplesPerPrompt).toBe(4);
    expect(demo.rl.lr).toBeCloseTo(0.15 * demo.sft.lr, 12);
    expect(demo.model.init).toBe('backbone');
    expect(resolveTrainConfig('smoke').model.dModel).toBeLessThan(resolveTrainConfig('demo').model.dModel);
  });

  test('overrides merge deeply and leave the other fields alone', () => {
    const base = resolveTrainConfig('smoke');
    const c = resolveTrainConfig('smoke', { rl: { steps: 7 } }, { rl: { rewardWeights: { format: 0.25 } } });
    expect(c.rl.steps).toBe(7);
    expect(c.rl.rewardWeights).toEqual({ consistency: 0.5, format: 0.25 });
    expect(c.rl.lr).toBe(base.rl.lr);
    expect(c.sft).toEqual(base.sft);
  });

  test.each([
    [{ rl: { stpes: 3 } }, /config\.rl\.stpes is not a known setting/],
    [{ rl: { lr: -1 } }, /config\.rl\.lr must be a number > 0.*got -1/],
    [{ rl: { lr: 'fast' } }, /config\.rl\.lr must be a number/],
    [{ sft: { batchSize: 2.5 } }, /config\.sft\.batchSize must be an integer/],
    [{ rl: { algo: 'ppo' } }, /config\.rl\.algo must be one of "stable-reinforce", "reinforce\+\+", "grpo", got "ppo"/],
    [{ rl: { algo: 'grpo', samplesPerPrompt: 1 } }, /config\.rl\.samplesPerPrompt must be >= 2 for the "grpo" baseline \(algo "grpo"'s\)/],
    [{ rl: { samplesPerPrompt: 1 } }, /config\.rl\.samplesPerPrompt must be >= 2 for the "rloo" baseline \(algo "stable-reinforce"'s\)/],
    [
      { rl: { algo: 'reinforce++', baseline: 'rloo', samplesPerPrompt: 1 } },
      /config\.rl\.samplesPerPrompt must be >= 2 for the "rloo" baseline \(a per-prompt/,
    ],
    [{ rl: { baseline: 'none', samplesPerPrompt: 1 } }, /config\.rl\.samplesPerPrompt must be >= 2 with config\.rl\.dynamicFilter/],
    [{ rl: { baseline: 'mean' } }, /config\.rl\.baseline must be one of "none", "rloo", "verdict", "grpo", got "mean"/],
    [{ rl: { dynamicFilter: 1 } }, /config\.rl\.dynamicFilter must be true or false, got 1/],
    [{ rl: { rolloutsPerUpdate: 0 } }, /config\.rl\.rolloutsPerUpdate must be an integer >= 1, got 0/],
    [{ rl: { lrWarmup: 1 } }, /config\.rl\.lrWarmup must be a number >= 0 and < 1, got 1/],
    [{ rl: { minLrRatio: -0.1 } }, /config\.rl\.minLrRatio must be a number >= 0 and <= 1, got -0\.1/],
    [{ rl: { betas: [0.9] } }, /config\.rl\.betas must be an array of 2 numbers, got 1 values/],
    [{ rl: { betas: 0.9 } }, /config\.rl\.betas must be an array of 2 numbers, got 0\.9/],
    [{ rl: { betas: [0.9, 1] } }, /config\.rl\.betas\[1\] must be a number >= 0 and < 1, got 1/],
    [{ rl: { klIn: 'returns' } }, /config\.rl\.klIn must be one of "loss", "reward", got "returns"/],
    [{ rl: { klEstimator: 'k4' } }, /config\.rl\.klEstimator must be one of "k1", "k2", "k3", got "k4"/],
    [{ rl: { warmupSteps: 2 } }, /config\.rl\.warmupSteps is not a known setting/],
    [{ rl: { curriculum: 'linear:colour' } }, /config\.rl\.curriculum: .*level' or 'hardness'/],
    [{ rl: { preClip: 'no' } }, /config\.rl\.preClip must be true or false/],
    [{ model: { dModel: 100, nHeads: 3 } }, /config\.model\.nHeads \(3\) must divide config\.model\.dModel \(100\)/],
    [{ model: { patchSize: 10 } }, /config\.model\.patchSize \(10\) must divide config\.model\.imageSize/],
    [{ vision: { lookupShare: 1.5 } }, /config\.vision\.lookupShare must be a number >= 0 and <= 1, got 1.5/],
    [{ eval: { hardLevels: [5] } }, /config\.eval\.hardLevels\[0\] must be an integer from 1 to 4, got 5/],
    [{ data: { levels: [5] } }, /config\.data\.levels\[0\] must be an integer from 0 to 4, got 5/],
    [{ data: { levels: [0, 1], categories: ['count'] } }, /config\.data\.categories: level 0 asks only attribute, existence questions, none of count/],
    [{ data: { n: 4, testFraction: 0.1 } }, /config\.data\.n \(4\).*fewer than 2 samples/],
    [{ device: 'tpu' }, /config\.device must be one of "auto", "cpu", "cuda"/],
    [{ preset: 'demo' }, /choose the preset with --preset/],
    [{ rl: 5 }, /config\.rl must be a JSON object/],
    [[1, 2], /config must be a JSON object/],
  ])('rejects %j with an error naming the field', (override, message) => {
    expect(() => resolveTrainConfig('smoke', override)).toThrow(message);
  });

  test('data.levels: default 1-4, level 0 allowed, the hard levels stay 3 and 4', () => {
    expect(resolveTrainConfig('demo').data.levels).toEqual([1, 2, 3, 4]);
    const c = resolveTrainConfig('smoke', { data: { levels: [0, 1, 2, 3, 4] } });
    expect(c.data.levels).toEqual([0, 1, 2, 3, 4]);
    expect(c.eval.hardLevels).toEqual([3, 4]);
    expect(synthOptions(c).levels).toEqual([0, 1, 2, 3, 4]);
    expect(resolveTrainConfig('smoke', { data: { levels: [0], categories: ['existence'] } }).data.categories).toEqual(['existence']);
  });

  test('unknown preset', () => {
    expect(() => resolveTrainConfig('huge')).toThrow(/unknown preset "huge" \(known: smoke, demo\)/);
  });

  test('the algorithm sets the ablation switches unless they are given', () => {
    const sr = resolveTrainConfig('smoke');
    const off = { preClip: false, filter: false, consistency: false, dynamicFilter: false };
    expect(effectiveRl(sr.rl)).toEqual({ preClip: true, filter: true, consistency: true, baseline: 'rloo', dynamicFilter: true });
    expect(effectiveRl(resolveTrainConfig('smoke', { rl: { algo: 'reinforce++' } }).rl)).toEqual({ ...off, baseline: 'none' });
    expect(effectiveRl(resolveTrainConfig('smoke', { rl: { algo: 'grpo' } }).rl)).toEqual({ ...off, baseline: 'grpo' });
    expect(effectiveRl(resolveTrainConfig('smoke', { rl: { filter: false } }).rl)).toEqual({
      preClip: true,
      filter: false,
      consistency: true,
      baseline: 'rloo',
      dynamicFilter: true,
    });
    expect(effectiveRl(resolveTrainConfig('smoke', { rl: { algo: 'reinforce++', baseline: 'verdict', dynamicFilter: true } }).rl)).toEqual({
      ...off,
      baseline: 'verdict',
      dynamicFilter: true,
    });
  });
});

describe('train command line', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sr-train-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--config with an unknown field: exit 2, message names the file and the field', async () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ rl: { stepz: 3 } }));
    const t = io();
    expect(await main(['train', '--preset', 'smoke', '--config', file, '--out', path.join(dir, 'r1')], t.io)).toBe(2);
    expect(t.err()).toContain(`--config ${file}: config.rl.stepz is not a known setting`);
    expect(fs.existsSync(path.join(dir, 'r1'))).toBe(false);
  });

  test('--config that is not JSON', async () => {
    const file = path.join(dir, 'bad.txt');
    fs.writeFileSync(file, '{ rl: ');
    const t = io();
    expect(await main(['train', '--preset', 'smoke', '--config', file], t.io)).toBe(2);
    expect(t.err()).toMatch(/not valid JSON/);
  });

  test('bad flags', async () => {
    let t = io();
    expect(await main(['train', '--algo', 'ppo'], t.io)).toBe(2);
    expect(t.err()).toMatch(/--algo must be one of "stable-reinforce", "reinforce\+\+", "grpo", got "ppo"/);
    t = io();
    expect(await main(['train', '--preset', 'tiny'], t.io)).toBe(2);
    expect(t.err()).toMatch(/--preset must be one of smoke, demo/);
    t = io();
    expect(await main(['train', '--seed=-3'], t.io)).toBe(2);
    expect(t.err()).toMatch(/--seed must be an integer >= 0/);
    t = io();
    expect(await main(['train', '--device', 'gpu'], t.io)).toBe(2);
    expect(t.err()).toMatch(/--device must be one of "auto", "cpu", "cuda", got "gpu"/);
  });

  (backends().cuda.usable ? test.skip : test)('--device cuda without a usable GPU says why', async () => {
    const t = io();
    const code = await main(['train', '--preset', 'smoke', '--device', 'cuda', '--quiet', '--out', path.join(dir, 'cuda')], t.io);
    expect(code).toBe(1);
    expect(t.err()).toMatch(/--device cuda: CUDA is not usable here \(.+\)/);
  });

  test('--help-config lists every setting with its default', async () => {
    const t = io();
    expect(await main(['train', '--help-config'], t.io)).toBe(0);
    for (const r of settingRows()) if (!r.section) expect(t.out()).toContain(`  ${r.path} = ${JSON.stringify(r.default)}  (${r.range})`);
    expect(t.out()).toContain('rl.lr = 0.0003');
    expect(t.out()).toContain('rl.betas = [0.9,0.95]');
  });

  test('--help lists the flags', async () => {
    const t = io();
    expect(await main(['train', '--help'], t.io)).toBe(0);
    for (const f of ['--preset', '--config', '--device', '--out', '--resume', '--seed', '--algo', '--no-preclip', '--no-filter', '--no-consistency']) {
      expect(t.out()).toContain(f);
    }
  });
});
