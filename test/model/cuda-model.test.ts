/**
 * The built-in model on CUDA against the same model on the CPU (which reference.test.ts checks against
 * PyTorch in float64): log-probs, entropy, logits, every parameter gradient (with an entropy gradient too),
 * an AdamW step, seeded generation with the KV cache, and learning a small task. Random small configs plus
 * fixed ones whose sizes are not multiples of the GEMM tiles (64 x 64 x 32) and whose sequences span several
 * tiles. Both matmul precisions: 'tf32x3' (about f32: tight tolerances, identical sampled tokens) and 'tf32'
 * (the default: tolerances of TF32 rounding). Skipped, and listed as skipped, without a usable GPU.
 */
import { AdamW, PolicyModel, Tensor } from '../../lib';
import type { ModelConfigInput, ModelExample } from '../../lib';
import { CUDA_SKIP_REASON, CUDA_USABLE } from '../helpers/backends';
import { Rng, seedNote } from '../helpers/random';
import { colourTask, randomConfig, randomText, randomizeParameters, relErr, trainSupervised } from './helpers';

type Precision = 'tf32' | 'tf32x3';
// Normwise relative errors allowed between the CUDA and CPU models (the CPU is within 1e-4 of float64).
const TOL: Record<Precision, { out: number; grad: number }> = {
  tf32x3: { out: 3e-4, grad: 1e-3 },
  tf32: { out: 2e-2, grad: 5e-2 },
};

const maybe = CUDA_USABLE ? describe : describe.skip;
if (!CUDA_USABLE) test.skip(`CUDA model tests skipped: ${CUDA_SKIP_REASON}`, () => undefined);

const FIXED: ModelConfigInput[] = [
  // d 84 (6 heads of 14, 2 kv heads), dFF 77: no dimension a multiple of 16; sequences of 36..120 rows.
  { dModel: 84, nLayers: 2, nHeads: 6, nKvHeads: 2, dFF: 77, imageSize: 12, patchSize: 2, maxSeqLen: 160 },
  // head size 130 (> 128 threads of the attention block), one kv head.
  { dModel: 260, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 130, imageSize: 8, patchSize: 4, maxSeqLen: 90 },
];

function batchFor(rng: Rng, config: ModelConfigInput, longPrompt: number): ModelExample[] {
  const S = config.imageSize;
  return [
    { image: rng.float32(S * S * 3, 0, 1), prompt: randomText(rng, longPrompt), response: randomText(rng, rng.int(1, 9)) },
    { image: null, prompt: randomText(rng, rng.int(1, 9)), response: Int32Array.from({ length: rng.int(1, 6) }, () => rng.int(0, 260)) },
    { image: Uint8Array.from({ length: S * S * 3 }, () => rng.int(0, 256)), prompt: 'é?', response: 'ok' },
  ];
}

maybe('built-in model: CUDA vs CPU', () => {
  const rng = new Rng();
  const configs: Array<[string, ModelConfigInput, number]> = [
    ['random #1', randomConfig(rng), 8],
    ['random #2', randomConfig(rng), 20],
    ['random #3', randomConfig(rng), 30],
    ['fixed odd sizes', FIXED[0], 90],
    ['fixed head size 130', FIXED[1], 40],
  ];

  for (const [name, config, promptLen] of configs) {
    for (const precision of ['tf32x3', 'tf32'] as Precision[]) {
      test(`${name} (${precision}): logprobs, entropy, logits, every gradient, AdamW`, async () => {
        const cpu = PolicyModel.create(config, { seed: rng.int(0, 1000) });
        randomizeParameters(cpu, rng, 0.3);
        const gpu = cpu.to('cuda', { matmulPrecision: precision });
        const why = `${JSON.stringify(config)} ${precision} ${seedNote}`;
        const failures: string[] = [];
        const check = (what: string, got: ArrayLike<number>, ref: ArrayLike<number>, tol: number) => {
          const e = relErr(got, ref);
          if (!(e <= tol)) failures.push(`${what}: rel err ${e.toExponential(2)} > ${tol}`);
        };
        expect(gpu.device).toBe('cuda');
        expect(gpu.matmulPrecision).toBe(precision);
        const pc = cpu.parameters();
        const pg = gpu.parameters();
        pg.forEach((p, i) => {
          expect(p.value.device).toBe('cuda');
          expect(p.grad!.device).toBe('cuda');
          expect(Array.from(p.value.toArray())).toEqual(Array.from(pc[i].value.toArray()));
        });

        const items = batchFor(rng, config, promptLen);
        const temperature = rng.uniform(0.6, 1.4);
        const rc = await cpu.logprobs(items, { temperature, entropy: true });
        const rg = await gpu.logprobs(items, { temperature, entropy: true });
        expect(rg.logprobs.device).toBe('cpu');
        expect(Array.from(rg.mask.toArray())).toEqual(Array.from(rc.mask.toArray()));
        check('logprobs', rg.logprobs.toArray(), rc.logprobs.toArray(), TOL[precision].out);
        check('entropy', rg.entropy!.toArray(), rc.entropy!.toArray(), TOL[precision].out);

        const [B, T] = rc.logprobs.shape;
        const g = rng.float32(B * T, -1, 1);
        const gh = rng.float32(B * T, -0.5, 0.5);
        await cpu.backward(g, gh);
        // The gradient as a CUDA tensor on one side: both devices are accepted.
        const ghCuda = Tensor.from(gh, [B, T], { device: 'cuda' });
        await gpu.backward(g, ghCuda);
        ghCuda.dispose();
        for (let i = 0; i < pc.length; i++) check(`grad ${pc[i].name}`, pg[i].grad!.toArray(), pc[i].grad!.toArray(), TOL[precision].grad);

        const lc = await cpu.logits(items);
        const lg = await gpu.logits(items);
        expect(lg.shape).toEqual(lc.shape);
        check('logits', lg.toArray(), lc.toArray(), TOL[precision].out);

        // One AdamW step on the GPU against a float64 reference from the GPU's own gradients (decay on 2-D
        // weights only, bias correction, clipping); its gradient norm against the CPU model's.
        const before = pg.map((p) => Float64Array.from(p.value.toArray()));
        const grads = pg.map((p) => Float64Array.from(p.grad!.toArray()));
        let norm = 0;
        for (const x of grads) for (const v of x) norm += v * v;
        norm = Math.sqrt(norm);
        let cpuNorm = 0;
        for (const p of pc) for (const v of p.grad!.toArray()) cpuNorm += v * v;
        cpuNorm = Math.sqrt(cpuNorm);
        const o = { lr: 1e-2, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.1, maxGradNorm: norm / 3 };
        const og = new AdamW(gpu, o);
        const st = og.step();
        if (!(Math.abs(st.gradNorm - norm) <= 1e-5 * norm)) failures.push(`AdamW gradNorm ${st.gradNorm}, float64 ${norm}`);
        if (!(Math.abs(norm - cpuNorm) <= TOL[precision].grad * cpuNorm)) failures.push(`gradient norm ${norm} vs CPU ${cpuNorm}`);
        const clip = o.maxGradNorm / (norm + 1e-6);
        pg.forEach((p, i) => {
          const wd = p.decay ? o.weightDecay : 0;
          const got = p.value.toArray();
          let bad = 0;
          for (let k = 0; k < got.length; k++) {
            const gk = grads[i][k] * clip;
            const m = (1 - o.betas[0]) * gk;
            const v = (1 - o.betas[1]) * gk * gk;
            const ref = before[i][k] * (1 - o.lr * wd) - (o.lr * (m / (1 - o.betas[0]))) / (Math.sqrt(v / (1 - o.betas[1])) + o.eps);
            if (!(Math.abs(got[k] - ref) < 2e-6 + 1e-5 * Math.abs(ref))) bad++;
          }
          if (bad) failures.push(`AdamW ${p.name}: ${bad} entries off the float64 step`);
        });
        // zeroGrad really zeroes device memory.
        gpu.zeroGrad();
        expect(pg.every((p) => (p.grad!.toArray() as Float32Array).every((v) => v === 0))).toBe(true);

        expect({ failures, why }).toEqual({ failures: [], why });
        for (const x of [og, cpu, gpu]) x.dispose();
        gpu.dispose(); // idempotent
        await expect(gpu.logprobs(items)).rejects.toThrow(/disposed/);
      }, 60000);
    }

    test(`${name}: seeded generation (KV cache) matches the CPU`, async () => {
      // Parameters of a moderate scale: logits of a few units, so that the ~1e-6 relative differences of the
      // f32-accurate products cannot move a draw across a boundary (the TF32 model is checked by scores instead).
      const cpu = PolicyModel.create(config, { seed: 3 });
      randomizeParameters(cpu, rng, 0.25);
      const x3 = cpu.to('cuda', { matmulPrecision: 'tf32x3' });
      const tf = cpu.to('cuda');
      const S = config.imageSize;
      const inputs = [{ image: rng.float32(S * S * 3, 0, 1), prompt: randomText(rng, 5) }, { prompt: randomText(rng, 12) }];
      const why = `${JSON.stringify(config)} ${seedNote}`;
      const tokensOf = (x: Array<Array<{ tokens: Int32Array }>>) => x.flat().map((s) => Array.from(s.tokens));
      for (const temperature of [0, 0.9]) {
        const opts = { n: 3, maxNewTokens: 16, seed: 11, temperature, topP: 0.95 };
        const a = await cpu.generate(inputs, opts);
        const b = await x3.generate(inputs, opts);
        // The same draws give the same tokens, and log-probs to ~1e-5; the KV cache equals full recomputation.
        expect({ tokens: tokensOf(b), why }).toEqual({ tokens: tokensOf(a), why });
        b.flat().forEach((s, i) => s.logprobs.forEach((v, t) => expect(Math.abs(v - a.flat()[i].logprobs[t])).toBeLessThan(1e-3)));
        const full = await x3.generate(inputs, { ...opts, useCache: false });
        expect({ tokens: tokensOf(full), why }).toEqual({ tokens: tokensOf(b), why });
        // TF32: the log-probs a sample reports are those the GPU and (to TF32 rounding) the CPU give its tokens.
        const c = await tf.generate(inputs, opts);
        const batch = c.flatMap((samples, i) => samples.map((s) => ({ ...inputs[i], response: s.tokens })));
        const t = temperature || 1;
        const ref = await cpu.logprobs(batch, { temperature: t, grad: false });
        const own = await tf.logprobs(batch, { temperature: t, grad: false });
        const T = ref.logprobs.shape[1];
        const lr = ref.logprobs.toArray();
        const lo = own.logprobs.toArray();
        const returned: number[] = [];
        const gpuScored: number[] = [];
        const cpuScored: number[] = [];
        batch.forEach((_, k) => {
          c[Math.floor(k / 3)][k % 3].logprobs.forEach((v, j) => {
            returned.push(v);
            gpuScored.push(lo[k * T + j]);
            cpuScored.push(lr[k * T + j]);
          });
        });
        expect(returned.length).toBeGreaterThan(0);
        expect({ gpu: relErr(returned, gpuScored) < TOL.tf32.out, cpu: relErr(returned, cpuScored) < TOL.tf32.out, why }).toEqual({
          gpu: true,
          cpu: true,
          why,
        });
      }
      for (const m of [cpu, x3, tf]) m.dispose();
    }, 60000);
  }

  test('a tiny CUDA model learns an image-conditioned task (as on the CPU)', async () => {
    const model = PolicyModel.create({ dModel: 32, nLayers: 2, nHeads: 4, dFF: 64, imageSize: 8, patchSize: 4, maxSeqLen: 64 }, { seed: 7, device: 'cuda' });
    const opt = new AdamW(model, { lr: 3e-3, weightDecay: 0 });
    const data = colourTask(8);
    const { first, last, skipped } = await trainSupervised(model, opt, data, 150);
    expect(skipped).toBe(0);
    expect(first).toBeGreaterThan(4);
    expect(last).toBeLessThan(0.1 * first);
    const out = await model.generate(
      data.map(({ image, prompt }) => ({ image, prompt })),
      { temperature: 0, maxNewTokens: 8 },
    );
    expect(out.map((s) => s[0].text)).toEqual(['red', 'blue', 'green']);
    // Moments live on the GPU; state() round-trips through the host.
    expect(opt.state().moments[0].m.length).toBe(model.parameters()[0].value.size);
    opt.dispose();
    model.dispose();
  }, 60000);

  test('to() moves between devices both ways; save/load keep the device choice', async () => {
    const cpu = PolicyModel.create(FIXED[0], { seed: 5 });
    const gpu = cpu.to('cuda');
    const back = gpu.to('cpu');
    expect(back.device).toBe('cpu');
    const items = batchFor(new Rng(9), FIXED[0], 10);
    const a = await cpu.logprobs(items, { grad: false });
    const b = await back.logprobs(items, { grad: false });
    expect(Array.from(b.logprobs.toArray())).toEqual(Array.from(a.logprobs.toArray()));
    for (const m of [cpu, gpu, back]) m.dispose();
  });
});
