/** Asserts that fn throws an error of class `name` whose message matches. */
export function expectNativeError(fn: () => unknown, name: 'TypeError' | 'RangeError', message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect((err as Error).name).toBe(name);
  expect((err as Error).message).toMatch(message);
}
