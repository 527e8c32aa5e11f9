import { Tensor, kernels } from '../../lib';

// Native errors are rethrown in the caller's realm, so class checks work in jest's sandbox too.
describe('errors raised by the native core', () => {
  test('a native TypeError is a TypeError here', () => {
    const t = Tensor.from([1, 2]);
    let caught: unknown;
    try {
      // Passing a non-tensor straight to the binding path: the native layer rejects it.
      kernels.tokenLogprobs(Tensor.from(new Float32Array(4), [2, 2]), Tensor.from(new Int32Array([0, 5])));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as Error).message).toMatch(/tokens/);
    t.dispose();
  });
  test("async rejections are this realm's errors too", async () => {
    await expect(kernels.tokenLogprobsAsync(Tensor.from(new Float32Array(4), [2, 2]), Tensor.from(new Int32Array([0, -1])))).rejects.toBeInstanceOf(RangeError);
  });
});
