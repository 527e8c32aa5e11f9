/**
 * Node defines Symbol.dispose and Symbol.asyncDispose (as the registry symbols 'nodejs.dispose' and
 * 'nodejs.asyncDispose') on its main realm only; Jest runs each test file in a vm context with its own Symbol.
 * The same registry symbols here, so `using` and the library's [Symbol.dispose] methods work in tests as in Node.
 */
const S = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
S.dispose ??= Symbol.for('nodejs.dispose');
S.asyncDispose ??= Symbol.for('nodejs.asyncDispose');
