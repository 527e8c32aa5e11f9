import { Tensor, backends, kernels } from '../../lib';
import { describeEachDevice } from '../helpers/backends';
import { Rng } from '../helpers/random';

/** float64 reference of f32 -> bf16 rounding (nearest even), via the bit pattern. */
function bf16Round(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  if (Number.isNaN(x)) return NaN;
  const lsb = (u[0] >>> 16) & 1;
  u[0] = ((u[0] + 0x7fff + lsb) >>> 16) << 16;
  return f[0];
}

describeEachDevice('Tensor', (device) => {
  const rng = new Rng();

  test('round trip for every dtype, and shape/dtype/device metadata', () => {
    const f = rng.normals(37, 10);
    const i = new Int32Array(37).map(() => rng.int(-1e9, 1e9));
    const u = new Uint8Array(37).map(() => rng.int(0, 256));
    for (const [data, dtype] of [
      [f, 'f32'],
      [i, 'i32'],
      [u, 'u8'],
    ] as const) {
      const t = Tensor.from(data, [37], { device });
      expect(t.dtype).toBe(dtype);
      expect(t.device).toBe(device);
      expect(t.shape).toEqual([37]);
      expect(Array.from(t.toArray())).toEqual(Array.from(data));
      t.dispose();
    }
  });

  test('bf16 rounds to nearest even and comes back as Float32Array', () => {
    const data = rng.normals(1000, 100);
    data[0] = 1 + 2 ** -8; // a tie: rounds to even (1)
    data[1] = 1 + 3 * 2 ** -8; // a tie: rounds up to even
    data[2] = NaN;
    data[3] = -Infinity;
    const t = Tensor.from(data, [10, 100], { dtype: 'bf16', device });
    const back = t.toArray();
    expect(back).toBeInstanceOf(Float32Array);
    for (let k = 0; k < data.length; k++) {
      const want = bf16Round(data[k]);
      if (Number.isNaN(want)) expect(Number.isNaN(back[k])).toBe(true);
      else expect(back[k]).toBe(want);
    }
    expect(back[0]).toBe(1);
    expect(back[1]).toBe(1 + 2 ** -6);
    t.dispose();
  });

  test('raw bf16 bits from a Uint16Array', () => {
    const bits = new Uint16Array([0x3f80, 0xc000, 0x7f80]); // 1, -2, +inf
    const t = Tensor.from(bits, [3], { dtype: 'bf16', device });
    expect(Array.from(t.toArray())).toEqual([1, -2, Infinity]);
  });

  test('to() copies between devices and keeps the data', () => {
    const data = rng.normals(513);
    const t = Tensor.from(data, [513], { device });
    const c = t.to('cpu');
    expect(c.device).toBe('cpu');
    expect(Array.from(c.toArray())).toEqual(Array.from(data));
    t.dispose();
    expect(Array.from(c.toArray())).toEqual(Array.from(data)); // independent copy
  });

  test('dispose is idempotent and a disposed tensor cannot be used', () => {
    const t = Tensor.from([1, 2, 3], [3], { device });
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.toArray()).toThrow(/disposed/);
    expect(() => t.to('cpu')).toThrow(TypeError);
  });

  test('`using` disposes the tensor when the block ends', () => {
    let kept: Tensor;
    {
      using t = Tensor.from([1, 2, 3], [3], { device });
      kept = t;
      expect(Array.from(t.toArray())).toEqual([1, 2, 3]);
    }
    expect(kept.disposed).toBe(true);
  });

  test('empty tensors', () => {
    const t = Tensor.from(new Float32Array(0), [0, 4], { device });
    expect(t.size).toBe(0);
    expect(t.toArray().length).toBe(0);
  });
});

describe('Tensor input checks', () => {
  test('shape and length must agree', () => {
    expect(() => Tensor.from([1, 2, 3], [2, 2])).toThrow(RangeError);
    expect(() => Tensor.from([1, 2, 3], [2, 2])).toThrow(/shape \[2, 2\] needs 4/);
  });
  test('bad shape entries', () => {
    expect(() => Tensor.from([1], [-1])).toThrow(/shape\[0\]/);
    expect(() => Tensor.from([1], [0.5 as number])).toThrow(TypeError);
  });
  test('bad dtype and values', () => {
    expect(() => Tensor.from([1], [1], { dtype: 'f16' as never })).toThrow(/dtype/);
    expect(() => Tensor.from([1.5], [1], { dtype: 'i32' })).toThrow(/i32/);
    expect(() => Tensor.from([256], [1], { dtype: 'u8' })).toThrow(/u8/);
    expect(() => Tensor.from(new Uint16Array(1), [1], { dtype: 'f32' })).toThrow(/bfloat16/);
  });
  test('bad data: a TypeError naming the argument, never numbers made up (NaN, 0, 1)', () => {
    expect(() => Tensor.from(null as never)).toThrow(new TypeError('data must be a typed array or an array of numbers, got null'));
    expect(() => Tensor.from('abc' as never)).toThrow(new TypeError('data must be a typed array or an array of numbers, got string'));
    expect(() => Tensor.from({ length: 3 } as never)).toThrow(
      new TypeError('data must be a typed array or an array of numbers, got an object that is not an array'),
    );
    expect(() => Tensor.from([1, 'a', null, true] as never)).toThrow(new TypeError('data[1] must be a number, got string'));
    expect(() => Tensor.from([1, 2, null] as never)).toThrow(new TypeError('data[2] must be a number, got null'));
    // eslint-disable-next-line no-sparse-arrays -- a hole is the case under test
    expect(() => Tensor.from([1, , 3] as never)).toThrow(new TypeError('data[1] must be a number, got undefined'));
    expect(() => Tensor.from(new BigInt64Array(2) as never)).toThrow(/data must be .* got a BigInt64Array/);
    expect(() => Tensor.from(new DataView(new ArrayBuffer(4)) as never)).toThrow(TypeError);
    expect(() => kernels.preClipRatio(['a'] as never, [0])).toThrow(new TypeError('logpNew[0] must be a number, got string'));
    expect(() => kernels.preClipRatio({ length: 1 } as never, [0])).toThrow(/logpNew must be a Tensor, a typed array or an array of numbers/);
    expect(() => kernels.groupAdvantages([1, 2, '3'] as never, { groupSize: 3 })).toThrow(/rewards\[2\] must be a number/);
    // NaN and infinities are numbers: they pass, and each kernel's contract says what it does with them.
    expect(Array.from(Tensor.from([NaN, Infinity]).toArray())).toEqual([NaN, Infinity]);
  });
  test('other typed arrays are converted; shared memory is copied rather than refused', () => {
    expect(Array.from(Tensor.from(new Int16Array([1, -2])).toArray())).toEqual([1, -2]);
    const shared = new Float32Array(new SharedArrayBuffer(12));
    shared.set([1, 2, 3]);
    const t = Tensor.from(shared);
    shared[0] = 9; // a copy: later writes do not reach the tensor
    expect(Array.from(t.toArray())).toEqual([1, 2, 3]);
    const ids = new Int32Array(new SharedArrayBuffer(8));
    ids.set([4, 5]);
    expect(Array.from(Tensor.from(ids).toArray())).toEqual([4, 5]);
    expect(Array.from(kernels.preClipRatio(shared, [9, 2, 3]).toArray())).toEqual([1, 1, 1]);
  });
  test('bad device', () => {
    expect(() => Tensor.from([1], [1], { device: 'tpu' as never })).toThrow(/device/);
  });
  test("device 'cuda' without a usable GPU is a clear error", () => {
    if (backends().cuda.usable) return;
    expect(() => Tensor.from([1], [1], { device: 'cuda' })).toThrow(/cuda.*not usable/i);
  });
  test("device 'auto' picks what is usable", () => {
    const t = Tensor.from([1], [1], { device: 'auto' });
    expect(t.device).toBe(backends().cuda.usable ? 'cuda' : 'cpu');
  });
  test('forgotten tensors are reclaimed by the garbage collector between event-loop turns', async () => {
    // 1.2 GB allocated in total (a unit test stays small and fast), never disposed; V8 learns of the native memory
    // and collects, and the finalizers (which run between event-loop turns) free it. Without that the peak
    // would be the whole 1.2 GB (seen: ~0.3 GB).
    const rss0 = process.memoryUsage().rss;
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      Tensor.zeros([10_000_000]);
      if (i % 4 === 0) await new Promise(setImmediate);
      peak = Math.max(peak, process.memoryUsage().rss - rss0);
    }
    expect(peak).toBeLessThan(0.7e9);
  });
});
