// Lint: typescript-eslint's recommended rules, React hooks, and the layer boundaries the architecture
// states (docs/ARCHITECTURE.md): core/ runs under plain Node, so it never imports Electron, the renderer
// or the transports; the renderer talks to the backend only through the contract's types.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'resources/**', 'test/fixtures/**', 'native/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // CommonJS on purpose: preloads for `node --require` (test/electron/parent-port.cjs, test/helpers/native-guard.cjs).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Foreign, dynamically typed data: transformers.js processors and JSON configs, benches and test probes.
    files: ['src-main/core/vlm/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src-main/core/**/*.ts', 'src-main/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'core/ and the contract run under plain Node: no Electron imports.' }],
          patterns: [
            {
              group: ['**/src-renderer/**', '**/electron/**', '**/transport/**', '**/cli/**'],
              message: 'core/ never imports the shell, transports, CLI or renderer.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // Hooks here load backend data in effects and refresh on backend events (a subscription, not derived
      // state), which this rule reports as cascading renders.
      'react-hooks/set-state-in-effect': 'off',
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer is sandboxed: it reaches the backend through api/client.ts only.' }],
          patterns: [
            { group: ['node:*'], message: 'The renderer runs in a sandboxed browser context: no Node modules.' },
            {
              group: ['**/src-main/**', '!**/src-main/contract/**'],
              message: 'The renderer imports only the contract (types) and its own code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-preload/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/core/**', '**/src-renderer/**'], message: 'The preload only bridges IPC.' }] },
      ],
    },
  },
);
