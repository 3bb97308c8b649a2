import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CachedFs } from '../../../src/context/cached-fs';
import { assembleContext } from '../../../src/context';
import type { FileSystemLike } from '../../../src/context/types';

/** An in-memory filesystem that counts every call. */
function memFs(files: Record<string, string>) {
  const calls: string[] = [];
  const enc = new TextEncoder();
  const dirs = () => {
    const out = new Set<string>();
    for (const f of Object.keys(files)) for (let d = path.dirname(f); ; d = path.dirname(d)) {
      out.add(d);
      if (path.dirname(d) === d) break;
    }
    return out;
  };
  const missing = (abs: string) => Object.assign(new Error(`ENOENT ${abs}`), { code: 'ENOENT' });
  const fs: FileSystemLike = {
    async stat(abs) {
      calls.push(`stat ${abs}`);
      if (abs in files) return { size: files[abs].length, mtimeMs: 1, isFile: () => true, isDirectory: () => false };
      if (dirs().has(abs)) return { size: 0, mtimeMs: 1, isFile: () => false, isDirectory: () => true };
      throw missing(abs);
    },
    async readFile(abs) {
      calls.push(`readFile ${abs}`);
      if (!(abs in files)) throw missing(abs);
      return enc.encode(files[abs]);
    },
    async realpath(abs) {
      calls.push(`realpath ${abs}`);
      if (!(abs in files) && !dirs().has(abs)) throw missing(abs);
      return abs;
    },
    async readdir(abs) {
      calls.push(`readdir ${abs}`);
      const names = new Map<string, boolean>();
      for (const f of Object.keys(files)) if (f.startsWith(abs + '/')) {
        const rest = f.slice(abs.length + 1);
        names.set(rest.split('/')[0], !rest.includes('/'));
      }
      return [...names].map(([name, isFile]) => ({ name, isFile: () => isFile, isDirectory: () => !isFile, isSymbolicLink: () => false }));
    },
  };
  return { fs, calls, files };
}

describe('CachedFs', () => {
  it('answers a repeated read from memory until its path is forgotten', async () => {
    const m = memFs({ '/w/a.ts': 'one' });
    const c = new CachedFs(m.fs, { ttlMs: 60_000, maxEntries: 100, maxBytes: 1 << 20 });
    expect(new TextDecoder().decode(await c.readFile('/w/a.ts'))).toBe('one');
    expect(new TextDecoder().decode(await c.readFile('/w/a.ts'))).toBe('one');
    expect(m.calls.filter((x) => x.startsWith('readFile'))).toHaveLength(1);
    m.files['/w/a.ts'] = 'two';
    c.forget('/w/a.ts');
    expect(new TextDecoder().decode(await c.readFile('/w/a.ts'))).toBe('two');
  });

  it('remembers a missing file until it is created, and then lists its folder again', async () => {
    const m = memFs({ '/w/a.ts': 'a' });
    const c = new CachedFs(m.fs, { ttlMs: 60_000, maxEntries: 100, maxBytes: 1 << 20 });
    await expect(c.stat('/w/b.ts')).rejects.toThrow(/ENOENT/);
    expect((await c.readdir('/w')).map((e) => e.name)).toEqual(['a.ts']);
    m.files['/w/b.ts'] = 'b';
    await expect(c.stat('/w/b.ts')).rejects.toThrow(/ENOENT/); // not told yet
    c.forget('/w/b.ts');
    expect((await c.stat('/w/b.ts')).size).toBe(1);
    expect((await c.readdir('/w')).map((e) => e.name).sort()).toEqual(['a.ts', 'b.ts']);
  });

  it('forgets everything under a forgotten folder', async () => {
    const m = memFs({ '/w/src/a.ts': 'a', '/w/src/deep/b.ts': 'b', '/w/other.ts': 'o' });
    const c = new CachedFs(m.fs, { ttlMs: 60_000, maxEntries: 100, maxBytes: 1 << 20 });
    for (const f of ['/w/src/a.ts', '/w/src/deep/b.ts', '/w/other.ts']) await c.readFile(f);
    c.forget('/w/src');
    m.calls.length = 0;
    for (const f of ['/w/src/a.ts', '/w/src/deep/b.ts', '/w/other.ts']) await c.readFile(f);
    expect(m.calls).toEqual(['readFile /w/src/a.ts', 'readFile /w/src/deep/b.ts']);
  });

  it('reads again after the time to live and keeps within its byte bound', async () => {
    let now = 0;
    const m = memFs({ '/w/a.ts': 'x'.repeat(600), '/w/b.ts': 'y'.repeat(600) });
    const c = new CachedFs(m.fs, { ttlMs: 1000, maxEntries: 100, maxBytes: 1000, now: () => now });
    await c.readFile('/w/a.ts');
    now = 500;
    await c.readFile('/w/a.ts');
    expect(c.hits).toBe(1);
    now = 1600;
    await c.readFile('/w/a.ts');
    expect(c.hits).toBe(1);
    await c.readFile('/w/b.ts'); // 1,200 bytes: the oldest goes
    await c.readFile('/w/a.ts');
    expect(m.calls.filter((x) => x === 'readFile /w/a.ts')).toHaveLength(3);
  });

  it('gives an assembly the same result as the plain filesystem, and a second one reads nothing', async () => {
    const files = {
      '/w/src/main.ts': "import { helper } from './util';\nhelper(",
      '/w/src/util.ts': 'export function helper(n: number) { return n * 2; }\n',
      '/w/src/other.ts': 'export const other = 1;\n',
      '/w/.gitignore': 'dist/\n',
    };
    const opts = { workspaceRoot: '/w', currentFile: 'src/main.ts', prefix: files['/w/src/main.ts'], suffix: '', maxContextTokens: 4096 };
    const plain = await assembleContext({ ...opts, fs: memFs(files).fs });
    const m = memFs(files);
    const c = new CachedFs(m.fs, { ttlMs: 60_000, maxEntries: 1000, maxBytes: 1 << 20 });
    const first = await assembleContext({ ...opts, fs: c });
    expect(first.payload).toEqual(plain.payload);
    expect(first.files).toContain('src/util.ts');
    m.calls.length = 0;
    const second = await assembleContext({ ...opts, fs: c });
    expect(second.payload).toEqual(plain.payload);
    expect(m.calls).toEqual([]);
  });
});
