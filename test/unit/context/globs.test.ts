import { describe, expect, it } from 'vitest';
import { compileGlobs, globToRegExp } from '../../../src/context/globs';

describe('files.exclude globs', () => {
  it.each([
    ['**/*.js', 'a/b/c.js', true],
    ['**/*.js', 'c.js', true],
    ['**/*.js', 'c.ts', false],
    ['*.log', 'x.log', true],
    ['*.log', 'a/x.log', false],
    ['**/.DS_Store', 'a/.DS_Store', true],
    ['src/**/gen/*.ts', 'src/a/b/gen/x.ts', true],
    ['src/**/gen/*.ts', 'src/gen/x.ts', true],
    ['**/*.{snap,lock}', 'a/b.snap', true],
    ['**/*.{snap,lock}', 'a/b.lock', true],
    ['**/*.{snap,lock}', 'a/b.ts', false],
    ['file?.ts', 'file1.ts', true],
    ['file[0-9].ts', 'file7.ts', true],
    ['file[!0-9].ts', 'file7.ts', false],
    ['a.b+c(d).ts', 'a.b+c(d).ts', true],
  ])('%s on %s → %s', (glob, rel, expected) => {
    expect(globToRegExp(glob).test(rel)).toBe(expected);
  });

  it('a folder pattern excludes the files inside it', () => {
    const m = compileGlobs(['**/build', 'out']);
    expect(m('pkg/build/index.js')).toBe(true);
    expect(m('out/x.ts')).toBe(true);
    expect(m('src/outline.ts')).toBe(false);
  });

  it('no patterns exclude nothing', () => {
    expect(compileGlobs(undefined)('a.ts')).toBe(false);
    expect(compileGlobs(['  '])('a.ts')).toBe(false);
  });
});
