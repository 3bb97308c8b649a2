// ESLint flat config: typescript-eslint's recommended rules for the TypeScript sources and tests,
// ESLint's recommended rules for the plain JavaScript scripts. Run by `npm run lint` and `npm test`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Globals written out here rather than taken from the `globals` package (not a dependency).
const readonly = (names) => Object.fromEntries(names.map((name) => [name, 'readonly']));
const nodeGlobals = readonly([
  'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder',
  'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate',
  'queueMicrotask', 'structuredClone', 'AbortController', 'AbortSignal', 'fetch', 'performance',
  'SharedArrayBuffer', 'Atomics', 'globalThis',
]);
const commonJsGlobals = { require: 'readonly', module: 'writable', exports: 'writable', __dirname: 'readonly', __filename: 'readonly' };
const browserGlobals = readonly([
  'window', 'document', 'navigator', 'location', 'Element', 'HTMLElement', 'Event', 'console',
  'setTimeout', 'clearTimeout', 'getComputedStyle', 'requestAnimationFrame',
]);

export default defineConfig(
  {
    ignores: [
      'dist/', 'out/', 'node_modules/', 'test-results/', 'training/', '.vscode-test*', '.vscode-test*/',
      // the sample workspaces the tests open or read: user code, not ours
      'test/fixtures/ws/', 'test/fixtures/context/',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { globals: nodeGlobals },
    rules: {
      // a name starting with _ is unused on purpose (`for await (const _ of ...)` to drive an iterator)
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: nodeGlobals },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'commonjs', globals: { ...nodeGlobals, ...commonJsGlobals } },
  },
  {
    // Playwright scripts pass functions to page.evaluate / waitForFunction: those run in the browser
    files: ['test/ui/**/*.mjs', '.ci/front-door.mjs'],
    languageOptions: { globals: { ...nodeGlobals, ...browserGlobals } },
  },
  {
    // webview scripts run in the browser (VS Code's webview API is a global there)
    files: ['media/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...browserGlobals, acquireVsCodeApi: 'readonly' } },
  },
  {
    // last, so that it holds over the recommended sets above
    rules: {
      // stripping ANSI colour escapes (\x1b[...m) from child-process output is intended
      'no-control-regex': 'off',
      // `catch {}` marks best-effort cleanup (killing a process that may be gone); other empty blocks stay errors
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
);
