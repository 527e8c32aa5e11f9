/** Tests are TypeScript, transpiled by ts-jest without type checking (tsc checks types in `npm run build:ts`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 120000,
  setupFiles: ['<rootDir>/test/helpers/symbol-dispose.ts'],
  // Native kernels use every core already; two workers keep memory and CPU in check on small machines.
  maxWorkers: 2,
};
