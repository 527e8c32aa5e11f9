/**
 * Errors thrown by native code come from Node's realm, not the one Jest runs tests in, so `toThrow(RangeError)`
 * cannot see them: these check the class by name and the message.
 */

function expectNamed(err: unknown, name: 'TypeError' | 'RangeError', message: RegExp): void {
  expect(err).toBeDefined();
  expect((err as Error).name).toBe(name);
  expect((err as Error).message).toMatch(message);
}

/** Asserts that fn throws an error of class `name` whose message matches. */
export function expectNativeError(fn: () => unknown, name: 'TypeError' | 'RangeError', message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expectNamed(err, name, message);
}

/** Asserts that p rejects with an error of class `name` whose message matches. */
export async function expectNativeRejection(p: Promise<unknown>, name: 'TypeError' | 'RangeError', message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expectNamed(err, name, message);
}
