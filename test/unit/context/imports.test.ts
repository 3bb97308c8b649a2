import { describe, expect, it } from 'vitest';
import { relativeImports, stripComments } from '../../../src/context/imports';
import { resolutionCandidates, resolveImport } from '../../../src/context/resolve';

describe('relativeImports', () => {
  it('finds every import form, in order, relative only', () => {
    const src = [
      "import fs from 'node:fs';",
      "import { a } from './a';",
      'import type { B } from "../b";',
      "import './side-effect';",
      "import * as ns from './ns';",
      "export { c } from './c';",
      "export * from './star';",
      'import {',
      '  multi,',
      '  line,',
      "} from './multi';",
      "const r = require('./req');",
      "const lazy = await import('./dyn');",
      "import x = require('./equals');",
      "const lodash = require('lodash');",
    ].join('\n');
    expect(relativeImports(src)).toEqual(['./a', '../b', './side-effect', './ns', './c', './star', './multi', './req', './dyn', './equals']);
  });

  it('ignores imports in comments and dedupes', () => {
    const src = "// import a from './commented';\n/* require('./block') */\nimport b from './b';\nimport { c } from './b';";
    expect(relativeImports(src)).toEqual(['./b']);
  });

  it('keeps strings containing // intact while stripping comments', () => {
    expect(stripComments("const u = 'http://x'; // c")).toBe("const u = 'http://x';     ");
  });
});

describe('resolveImport', () => {
  const existing = (files: string[]) => async (rel: string) => files.includes(rel);

  it.each([
    ['src/app.ts', './util', ['src/util.ts'], 'src/util.ts'],
    ['src/app.ts', './util.js', ['src/util.ts'], 'src/util.ts'], // ESM-style .js for a .ts source
    ['src/app.ts', './util.js', ['src/util.js', 'src/util.ts'], 'src/util.js'],
    ['src/app.tsx', './Button', ['src/Button.tsx'], 'src/Button.tsx'],
    ['src/app.ts', './types', ['src/types.d.ts'], 'src/types.d.ts'],
    ['src/app.ts', './lib', ['src/lib/index.ts'], 'src/lib/index.ts'],
    ['src/app.ts', './lib', ['src/lib/index.jsx'], 'src/lib/index.jsx'],
    ['src/a/app.ts', '../m', ['src/m.mts'], 'src/m.mts'],
    ['src/app.ts', './m.mjs', ['src/m.mts'], 'src/m.mts'],
    ['src/app.ts', './c', ['src/c.cts'], 'src/c.cts'],
    ['src/app.ts', './c', ['src/c.cjs'], 'src/c.cjs'],
    ['src/app.ts', './data.json', ['src/data.json'], 'src/data.json'],
    ['src/app.ts', './x.service', ['src/x.service.ts'], 'src/x.service.ts'],
    ['app.ts', '.', ['index.ts'], 'index.ts'],
  ])('%s imports %s with %j → %s', async (from, spec, files, expected) => {
    expect(await resolveImport(from, spec, existing(files))).toBe(expected);
  });

  it('prefers a file over a folder index', async () => {
    expect(await resolveImport('a.ts', './lib', existing(['lib.ts', 'lib/index.ts']))).toBe('lib.ts');
  });

  it('never resolves outside the workspace', () => {
    expect(resolutionCandidates('src/a.ts', '../../../etc/passwd')).toEqual([]);
  });

  it('returns undefined when nothing exists', async () => {
    expect(await resolveImport('a.ts', './missing', existing([]))).toBeUndefined();
  });
});
