/**
 * The thread pool and the host allocation cache, seen from the kernels:
 * - results are bit-identical whatever the thread count (SR_NUM_THREADS is read once per process, so each count
 *   runs in a child process) and whichever path runs the chunks: the calling thread alone, the pool, or the
 *   serial fallback taken while async jobs hold the pool;
 * - a synchronous loop of small kernel calls does not grow the process by one output block per call.
 * The children load the compiled package (dist/, built by `npm test`'s pretest) and the native binary this test
 * run uses (STABLE_REINFORCE_NATIVE is inherited).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { TEST_SEED, seedNote } from '../helpers/random';

const DIST = path.join(__dirname, '..', '..', 'dist', 'lib');

function runChild(script: string, env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child failed (${JSON.stringify(env)}): ${r.stderr}`);
  return r.stdout.trim();
}

// Every kernel that splits its work, at sizes that give several chunks (see each *_cpu.cpp's chunk_count), with
// hashes of the output bytes and the scalar results at full precision. Then the same calls as async jobs running
// concurrently with sync ones (the pool is busy for some of them), whose outputs must hash the same.
const KERNELS_SCRIPT = `
const crypto = require('crypto');
const { Tensor, kernels } = require(${JSON.stringify(DIST)});
let s = ${TEST_SEED} >>> 0;
const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
const f32 = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd());
const u8 = (n, p) => Uint8Array.from({ length: n }, () => (rnd() < p ? 1 : 0));
const hash = (t) => crypto.createHash('sha256').update(Buffer.from(t.toArray().buffer)).digest('hex');

const N = 2 ** 18 + 7;
const a = Tensor.from(f32(N, -8, 0)), b = Tensor.from(f32(N, -8, 0));
const vals = f32(N, -3, 3); for (let i = 0; i < N; i += 997) vals[i] = 40;
const v = Tensor.from(vals), vm = Tensor.from(u8(N, 0.9));
const B = 300, T = 1000;
const pl = { logpNew: Tensor.from(f32(B * T, -4, 0), [B, T]), logpOld: Tensor.from(f32(B * T, -4, 0), [B, T]),
  advantages: Tensor.from(f32(B * T, -2, 2), [B, T]), mask: Tensor.from(u8(B * T, 0.9), [B, T]),
  logpRef: Tensor.from(f32(B * T, -4, 0), [B, T]), klCoef: 0.05 };
const RB = 200, RT = 500;
const rr = { rewards: Tensor.from(f32(RB, -1, 1)), mask: Tensor.from(u8(RB * RT, 0.8), [RB, RT]),
  logpOld: Tensor.from(f32(RB * RT, -4, 0), [RB, RT]), logpRef: Tensor.from(f32(RB * RT, -4, 0), [RB, RT]), klCoef: 0.1 };
const g = Tensor.from(f32(4 * 2048 * 5, 0, 1));
const LN = 96, V = 3000;
const logits = Tensor.from(f32(LN * V, -6, 6), [LN, V]);
const tokens = Tensor.from(Int32Array.from({ length: LN }, () => Math.floor(rnd() * V)));

const sync = () => {
  const af = kernels.advantageFilter(v, { mask: vm });
  const p = kernels.policyLoss(pl);
  const tl = kernels.tokenLogprobs(logits, tokens, { entropy: true });
  return {
    preClipRatio: hash(kernels.preClipRatio(a, b)),
    advantageFilter: [hash(af.advantages), af.mean, af.std, af.kept, af.filtered, af.nonFinite],
    policyLoss: [hash(p.grad), p.loss, p.stats],
    reinforceReturns: hash(kernels.reinforceReturns(rr)),
    groupAdvantages: hash(kernels.groupAdvantages(g, { groupSize: 4 })),
    tokenLogprobs: [hash(tl.logprobs), hash(tl.entropy)],
  };
};
(async () => {
  const first = sync();
  const jobs = [];
  for (let k = 0; k < 3; k++) {
    jobs.push(kernels.preClipRatioAsync(a, b).then(hash));
    jobs.push(kernels.advantageFilterAsync(v, { mask: vm }).then((r) => [hash(r.advantages), r.mean, r.std, r.kept, r.filtered, r.nonFinite]));
    jobs.push(kernels.policyLossAsync(pl).then((r) => [hash(r.grad), r.loss, r.stats]));
  }
  const during = sync(); // the async jobs run on libuv threads meanwhile
  const done = await Promise.all(jobs);
  const concurrent = [];
  for (let k = 0; k < 3; k++) concurrent.push({ preClipRatio: done[3 * k], advantageFilter: done[3 * k + 1], policyLoss: done[3 * k + 2] });
  console.log(JSON.stringify({ first, during, concurrent }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('thread pool', () => {
  test('kernel results are bit-identical for 1, 2 and 3 threads, and for async jobs sharing the pool', () => {
    const runs = ['1', '2', '3'].map((t) => ({ t, out: JSON.parse(runChild(KERNELS_SCRIPT, { SR_NUM_THREADS: t })) }));
    const reference = runs[0].out.first;
    expect(reference.policyLoss[2].validTokens).toBeGreaterThan(0);
    for (const { t, out } of runs) {
      const note = `SR_NUM_THREADS=${t} ${seedNote}`;
      expect({ note, r: out.first }).toEqual({ note, r: reference });
      expect({ note, r: out.during }).toEqual({ note, r: reference });
      for (const c of out.concurrent) {
        expect({ note, r: c }).toEqual({
          note,
          r: { preClipRatio: reference.preClipRatio, advantageFilter: reference.advantageFilter, policyLoss: reference.policyLoss },
        });
      }
    }
  });
});

describe('host allocation cache', () => {
  test('a synchronous loop of small kernel calls reuses the freed output blocks', () => {
    // Each call frees its output before the next allocates one of the same size. Without reuse the process
    // grows by one block per call (16 KiB here, about 300 MiB over the loop).
    const script = `
      const { Tensor, kernels } = require(${JSON.stringify(DIST)});
      const n = 4096, calls = 20000;
      const a = Tensor.from(new Float32Array(n).fill(-1)), b = Tensor.from(new Float32Array(n).fill(-2));
      for (let i = 0; i < 200; i++) kernels.preClipRatio(a, b).dispose();
      const rss0 = process.memoryUsage().rss;
      for (let i = 0; i < calls; i++) kernels.preClipRatio(a, b).dispose();
      console.log(JSON.stringify({ grownMiB: (process.memoryUsage().rss - rss0) / 2 ** 20, blockMiB: (calls * n * 4) / 2 ** 20 }));
    `;
    const { grownMiB, blockMiB } = JSON.parse(runChild(script, {}));
    expect(blockMiB).toBeGreaterThan(300);
    // What remains is the JavaScript handles' own memory until their finalizers run (a few hundred bytes each).
    expect(grownMiB).toBeLessThan(48);
  });
});
