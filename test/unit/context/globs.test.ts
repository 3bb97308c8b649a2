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
    // wildcards match dotfiles, as in VS Code
    ['**/*.js', 'a/.eslintrc.js', true],
    ['*', '.env', true],
    ['**/.git', '.git', true],
    // a character class stays inside one path segment
    ['file[!0-9].ts', 'file/.ts', false],
    ['[]]x', ']x', true],
    // parentheses and `|` are literal (no regex groups, no extglobs): `(site)` is a folder name
    ['app/(site)/**', 'app/(site)/page.ts', true],
    ['app/(site)/**', 'app/site/page.ts', false],
    ['+(a|b)', 'a', false],
    ['+(a|b)', '+(a|b)', true],
    // no leading-`!` negation
    ['!keep.ts', 'other.ts', false],
    ['!keep.ts', '!keep.ts', true],
    // nested alternation, `*` inside one segment
    ['{a,{b,c}}/x', 'c/x', true],
    ['a/*/b', 'a/x/y/b', false],
    // settings written on Windows, a leading ./, surrounding whitespace
    ['out\\**', 'out/a/b.js', true],
    ['./dist/*.js', 'dist/a.js', true],
    ['  *.tmp ', 'x.tmp', true],
  ])('%s on %s → %s', (glob, rel, expected) => {
    expect(globToRegExp(glob, { ignoreCase: false }).test(rel)).toBe(expected);
  });

  it('ignores case where asked (the default on Windows and macOS, whose file systems ignore it)', () => {
    expect(globToRegExp('*.LOG', { ignoreCase: true }).test('x.log')).toBe(true);
    expect(globToRegExp('*.LOG', { ignoreCase: false }).test('x.log')).toBe(false);
    expect(compileGlobs(['**/Build'], { ignoreCase: true })('pkg/build/a.js')).toBe(true);
    expect(compileGlobs(['**/Build'], { ignoreCase: false })('pkg/build/a.js')).toBe(false);
    expect(globToRegExp('*.LOG').test('x.log')).toBe(process.platform === 'win32' || process.platform === 'darwin');
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
