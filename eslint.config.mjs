// @ts-check
/**
 * ESLint (`npm run lint`): typescript-eslint's recommended rules, and the import structure of lib/:
 * no import cycles (import-x/no-cycle) and the layers below, top to bottom (docs/CONTRIBUTING.md, Layers).
 * A file may import its own layer and any lower one; never a higher layer or the package entry lib/index.ts.
 * test/lint/layers.test.ts proves that an upward import and a cycle fail.
 */
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export const LAYERS = [
  ['lib/cli'],
  ['lib/train', 'lib/report'],
  ['lib/data', 'lib/serve'],
  ['lib/eval'],
  ['lib/rewards'],
  ['lib/model'],
  ['lib/kernels'],
  ['lib/tensor.ts'],
  ['lib/backends.ts'],
  ['lib/native'],
  ['lib/internal'],
];

/** import-x/no-restricted-paths zones: a layer may not import the layers above it (nor the package entry). */
export function layerZones(layers = LAYERS) {
  return layers.map((layer, i) => {
    const above = layers.slice(0, i).flat();
    return {
      target: layer.map((f) => `./${f}`),
      from: ['./lib/index.ts', ...above.map((f) => `./${f}`)],
      message: `${layer.join(' and ')} may not import ${above.length ? `a layer above it (${above.join(', ')})` : 'lib/index.ts'}: see docs/CONTRIBUTING.md, Layers. Move what both need down, or pass it in.`,
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'build-*/', 'node_modules/', 'prebuilds/', 'native/', 'test/lint/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      // import-x reads the imported .ts files itself (for no-cycle) with typescript-eslint's parser.
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.d.ts', '.js', '.json', '.node'] })],
    },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: layerZones() }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Our errors re-thrown from a catch carry the cause's message in their own (most are UsageErrors for the
      // command line, whose constructor takes no options).
      'preserve-caught-error': 'off',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    // Tests read parsed JSON and fake servers' bodies loosely.
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
