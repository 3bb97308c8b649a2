import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, symlinkSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import { assembleContext } from '../../../src/context/assemble';
import { GitignoreCache } from '../../../src/context/gitignore';
import type { AssembleOptions } from '../../../src/context/types';
import { FIXTURE_TS_PROJECT, makeWorkspace, memoryFs } from '../../fixtures/context/workspace';

const BIG = 100_000;
let cleanups: (() => void)[] = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

function ws(files: Record<string, string | Uint8Array>): string {
  const w = makeWorkspace(files);
  cleanups.push(w.cleanup);
  return w.root;
}

function opts(root: string, currentFile: string, extra: Partial<AssembleOptions> = {}): AssembleOptions {
  const abs = path.join(root, currentFile);
  let text = '';
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    // unsaved/new file
  }
  return { workspaceRoot: root, currentFile, prefix: text, suffix: '', maxContextTokens: BIG, ...extra };
}

const reasonOf = (r: { skipped: { file: string; reason: string }[] }, file: string) => r.skipped.find((s) => s.file === file)?.reason;

describe('assembleContext: candidates', () => {
  it('resolves the current file’s imports of every form, then one more level, then the folder', async () => {
    const r = await assembleContext(opts(FIXTURE_TS_PROJECT, 'src/app.ts'), new GitignoreCache());
    const direct = ['src/util.ts', 'src/components/index.tsx', 'src/types.d.ts', 'src/lib/math.mts', 'src/legacy.cjs', 'src/lib/shared.cts', 'src/lazy.jsx'];
    expect(r.files.slice(0, direct.length)).toEqual(direct);
    expect(r.files[direct.length]).toBe('src/format.ts'); // imported by util.ts
    expect(r.files).not.toContain('src/internal/deep.ts'); // two levels away
    expect(r.files).not.toContain('src/other/unrelated.ts'); // other folder, not imported
    expect(r.files).not.toContain('src/app.ts'); // the current file goes in `current`
    expect(r.payload.current).toEqual({ file: 'src/app.ts', prefix: readFileSync(path.join(FIXTURE_TS_PROJECT, 'src/app.ts'), 'utf8'), suffix: '' });
    expect(r.payload.files.map((f) => f.file)).toEqual(r.files);
    expect(r.payload.files[0].text).toBe(readFileSync(path.join(FIXTURE_TS_PROJECT, 'src/util.ts'), 'utf8'));
  });

  it('takes imports from the unsaved buffer, not from disk', async () => {
    const root = ws({ 'a.ts': '', 'b.ts': 'export const b = 1;', 'sub/c.ts': 'export const c = 1;' });
    const r = await assembleContext({ ...opts(root, 'a.ts'), prefix: "import { c } from './sub/c';\n", suffix: '' });
    expect(r.files).toEqual(['sub/c.ts', 'b.ts']);
  });

  it('orders new files: imports, transitive, open tabs, recently edited, same folder', async () => {
    const root = ws({
      'src/main.ts': "import './dep';",
      'src/dep.ts': "import './trans';",
      'src/trans.ts': '',
      'src/sibling.ts': '',
      'lib/tab.ts': '',
      'lib/edited.ts': '',
    });
    const r = await assembleContext(opts(root, 'src/main.ts', { openFiles: ['lib/tab.ts', 'src/main.ts'], recentlyEdited: ['lib/edited.ts'] }));
    expect(r.files).toEqual(['src/dep.ts', 'src/trans.ts', 'lib/tab.ts', 'lib/edited.ts', 'src/sibling.ts']);
  });

  it('prefers same-stem files (tests ↔ source) among same-folder files', async () => {
    const root = ws({ 'src/zeta.ts': '', 'src/alpha.ts': '', 'src/zeta.test.ts': '', 'src/readme.md': '' });
    const r = await assembleContext(opts(root, 'src/zeta.test.ts'));
    expect(r.files).toEqual(['src/zeta.ts', 'src/alpha.ts', 'src/readme.md']);
  });
});

describe('assembleContext: append-only order', () => {
  it('keeps previously placed files first and in order, appending new ones', async () => {
    const root = ws({ 'a.ts': '', 'b.ts': '', 'c.ts': '', 'd.ts': '', 'cur.ts': '' });
    const first = await assembleContext(opts(root, 'cur.ts', { openFiles: ['c.ts', 'a.ts'] }));
    expect(first.files).toEqual(['c.ts', 'a.ts', 'b.ts', 'd.ts']);
    // The user opens d.ts and the current file now imports b: priorities change, placement does not.
    const second = await assembleContext({
      ...opts(root, 'cur.ts', { openFiles: ['d.ts', 'c.ts', 'a.ts'], previous: first.files }),
      prefix: "import './b';\n",
    });
    expect(second.files).toEqual(first.files);
  });

  it('drops files no longer wanted and appends newly wanted ones after the kept ones', async () => {
    const root = ws({ 'x/cur.ts': '', 'x/sib.ts': '', 'y/one.ts': '', 'y/two.ts': '' });
    const previous = ['y/one.ts', 'x/gone.ts', 'x/sib.ts'];
    const r = await assembleContext(opts(root, 'x/cur.ts', { previous, openFiles: ['y/two.ts', 'y/one.ts'] }));
    expect(r.files).toEqual(['y/one.ts', 'x/sib.ts', 'y/two.ts']);
  });

  it('never lists the current file, even if it was placed before', async () => {
    const root = ws({ 'a.ts': '', 'b.ts': '' });
    const r = await assembleContext(opts(root, 'a.ts', { previous: ['a.ts', 'b.ts'] }));
    expect(r.files).toEqual(['b.ts']);
  });

  it('is deterministic for the same inputs', async () => {
    const root = ws({ 'a.ts': "import './b'; import './c';", 'b.ts': '', 'c.ts': '', 'd.ts': '' });
    const a = await assembleContext(opts(root, 'a.ts'));
    const b = await assembleContext(opts(root, 'a.ts'));
    expect(b.files).toEqual(a.files);
  });
});

describe('assembleContext: budget', () => {
  const est = (t: string) => t.length; // 1 token per char keeps the arithmetic readable

  it('drops from the end of the related list, keeping the placed prefix stable', async () => {
    const root = ws({ 'cur.ts': '', 'a.ts': 'a'.repeat(100), 'b.ts': 'b'.repeat(100), 'c.ts': 'c'.repeat(10) });
    const base = { estimateTokens: est, openFiles: ['a.ts', 'b.ts', 'c.ts'] };
    const all = await assembleContext(opts(root, 'cur.ts', { ...base, maxContextTokens: 1000 }));
    expect(all.files).toEqual(['a.ts', 'b.ts', 'c.ts']);
    // Room for a and b's size but not both: b and everything after it go, even the small c.
    const tight = await assembleContext(opts(root, 'cur.ts', { ...base, maxContextTokens: 200, previous: all.files }));
    expect(tight.files).toEqual(['a.ts']);
    expect(reasonOf(tight, 'b.ts')).toBe('budget');
    expect(reasonOf(tight, 'c.ts')).toBe('budget');
    expect(tight.estimatedTokens).toBeLessThanOrEqual(200);
  });

  it('reserves room for the current file', async () => {
    const root = ws({ 'cur.ts': '', 'a.ts': 'a'.repeat(100) });
    const fits = await assembleContext({ ...opts(root, 'cur.ts', { estimateTokens: est, maxContextTokens: 200, maxPrefixTokens: 100 }), prefix: 'p'.repeat(50) });
    expect(fits.files).toEqual(['a.ts']);
    const crowded = await assembleContext({ ...opts(root, 'cur.ts', { estimateTokens: est, maxContextTokens: 200, maxPrefixTokens: 100 }), prefix: 'p'.repeat(95) });
    expect(crowded.files).toEqual([]);
  });

  it('caps the suffix (30 lines / ~2000 chars) and the prefix (maxPrefixTokens)', async () => {
    const root = ws({ 'cur.ts': '' });
    const suffix = Array.from({ length: 100 }, (_, i) => `line${i}`).join('\n');
    const prefix = Array.from({ length: 400 }, (_, i) => `p${i}`).join('\n') + '\nconst x = ';
    const r = await assembleContext({ ...opts(root, 'cur.ts', { maxContextTokens: 1000 }), prefix, suffix });
    expect(r.payload.current.suffix.split('\n')).toHaveLength(30);
    expect(r.payload.current.prefix.length / 3).toBeLessThanOrEqual(500);
    expect(r.payload.current.prefix.endsWith('const x = ')).toBe(true);
    expect(prefix.slice(r.prefixStart)).toBe(r.payload.current.prefix);
  });

  it('skips a file too big for the whole budget without blocking the ones after it', async () => {
    const root = ws({ 'cur.ts': '', 'huge.ts': 'h'.repeat(5000), 'small.ts': 's' });
    const r = await assembleContext(opts(root, 'cur.ts', { estimateTokens: est, maxContextTokens: 300, openFiles: ['huge.ts', 'small.ts'] }));
    expect(r.files).toEqual(['small.ts']);
    expect(reasonOf(r, 'huge.ts')).toBe('budget');
  });
});

describe('assembleContext: exclusions', () => {
  const PRIVATE = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n';

  it('never places secrets, ignored, excluded, vendored, binary, large or minified files, and says why', async () => {
    const root = ws({
      '.gitignore': 'ignored.ts\nbuild/\n',
      'pkg/.gitignore': 'local.ts\n',
      'src/cur.ts': '',
      'src/.env': 'API_KEY=x',
      'src/.env.local': 'API_KEY=x',
      'src/server.pem': PRIVATE,
      'src/tls.key': 'k',
      'src/store.p12': 'k',
      'src/store.pfx': 'k',
      'src/ca.crt': 'c',
      'src/app.keystore': 'k',
      'src/app.jks': 'k',
      'src/id_rsa': PRIVATE,
      'src/fixture.ts': `export const k = \`${PRIVATE}\`;`,
      'src/logo.ts': Uint8Array.from([0x89, 0x50, 0x00, 0x47]),
      'src/latin1.ts': Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      'src/big.ts': `// big\n${'const a = 1;\n'.repeat(90_000)}`,
      'src/bundle.ts': 'x'.repeat(6000),
      'src/gen.snap.ts': 'x',
      'ignored.ts': '',
      'build/out.ts': '',
      'pkg/local.ts': '',
      'node_modules/lib/index.ts': '',
      'src/ok.ts': 'export const ok = 1;',
    });
    const r = await assembleContext(
      opts(root, 'src/cur.ts', {
        openFiles: ['ignored.ts', 'build/out.ts', 'pkg/local.ts', 'node_modules/lib/index.ts', '.git/config', '../outside.ts'],
        excludeGlobs: ['**/*.snap.ts'],
      }),
    );
    expect(r.files).toEqual(['src/ok.ts']);
    const expected: Record<string, string> = {
      'src/.env': 'secret',
      'src/.env.local': 'secret',
      'src/server.pem': 'secret',
      'src/tls.key': 'secret',
      'src/store.p12': 'secret',
      'src/store.pfx': 'secret',
      'src/ca.crt': 'secret',
      'src/app.keystore': 'secret',
      'src/app.jks': 'secret',
      'src/id_rsa': 'secret',
      'src/fixture.ts': 'private-key',
      'src/logo.ts': 'binary',
      'src/latin1.ts': 'binary',
      'src/big.ts': 'too-large',
      'src/bundle.ts': 'minified',
      'src/gen.snap.ts': 'excluded',
      'ignored.ts': 'gitignored',
      'build/out.ts': 'gitignored',
      'pkg/local.ts': 'gitignored',
      'node_modules/lib/index.ts': 'vendored',
      '.git/config': 'vendored',
      '../outside.ts': 'outside-workspace',
    };
    for (const [file, reason] of Object.entries(expected)) expect([file, reasonOf(r, file)]).toEqual([file, reason]);
    const placed = JSON.stringify(r.payload);
    expect(placed).not.toContain('PRIVATE KEY');
    expect(placed).not.toContain('API_KEY');
  });

  it('does not open secret files at all', async () => {
    const files = new Map([
      ['cur.ts', ''],
      ['.env', 'SECRET=1'],
      ['id_rsa', 'x'],
    ]);
    const { fs, counts } = memoryFs('/ws', files);
    const r = await assembleContext({ workspaceRoot: '/ws', currentFile: 'cur.ts', prefix: '', suffix: '', maxContextTokens: BIG, fs }, new GitignoreCache());
    expect(reasonOf(r, '.env')).toBe('secret');
    expect(counts.readPaths.filter((p) => p === '.env' || p === 'id_rsa')).toEqual([]);
  });

  it('unsaved editor content is judged too (a pasted private key keeps the file out)', async () => {
    const root = ws({ 'cur.ts': '', 'notes.ts': 'clean on disk' });
    const r = await assembleContext(opts(root, 'cur.ts', { openDocuments: [{ file: 'notes.ts', text: PRIVATE }] }));
    expect(r.files).toEqual([]);
    expect(reasonOf(r, 'notes.ts')).toBe('private-key');
  });

  it('sends nothing of a current file that is a secret', async () => {
    const root = ws({ '.env': '' });
    const r = await assembleContext({ ...opts(root, '.env'), prefix: 'API_KEY=', suffix: '\nOTHER=1' });
    expect(r.currentSkipped).toBe('secret');
    expect(r.payload.current.prefix).toBe('');
    expect(r.payload.current.suffix).toBe('');
    const k = await assembleContext({ ...opts(root, 'keys.ts'), prefix: 'const k = `-----BEGIN PRIVATE', suffix: ' KEY-----\nabc`;' });
    expect(k.currentSkipped).toBe('private-key');
  });

  it('skips symlinks that lead outside the workspace, and symlinks to secrets inside it', async () => {
    const outside = ws({ 'stolen.ts': 'export const stolen = 1;' });
    const root = ws({ 'cur.ts': '', '.env': 'K=1', 'ok.ts': '' });
    symlinkSync(path.join(outside, 'stolen.ts'), path.join(root, 'link.ts'));
    symlinkSync(path.join(root, '.env'), path.join(root, 'config.ts'));
    symlinkSync(path.join(root, 'ok.ts'), path.join(root, 'alias.ts'));
    const r = await assembleContext(opts(root, 'cur.ts'));
    expect(reasonOf(r, 'link.ts')).toBe('outside-workspace');
    expect(reasonOf(r, 'config.ts')).toBe('secret');
    expect(r.files).toEqual(['alias.ts', 'ok.ts']);
  });

  it('never throws on unreadable, missing or odd candidates', async () => {
    const root = ws({ 'cur.ts': "import './dir'; import './missing';", 'locked.ts': 'x', 'dir/.keep': '' });
    chmodSync(path.join(root, 'locked.ts'), 0o000);
    mkdirSync(path.join(root, 'folder.ts'));
    symlinkSync(path.join(root, 'nowhere.ts'), path.join(root, 'dangling.ts'));
    const r = await assembleContext(opts(root, 'cur.ts', { openFiles: ['gone.ts', 'folder.ts', ''], recentlyEdited: ['dangling.ts'] }));
    expect(r.files).not.toContain('gone.ts');
    expect(reasonOf(r, 'gone.ts')).toBe('unreadable');
    expect(reasonOf(r, 'folder.ts')).toBe('unreadable');
    expect(reasonOf(r, 'dangling.ts')).toBe('unreadable');
    if (process.getuid?.() !== 0) expect(reasonOf(r, 'locked.ts')).toBe('unreadable'); // root can read anything
    const missingRoot = await assembleContext(opts(path.join(root, 'no-such-dir'), 'cur.ts', { openFiles: ['a.ts'] }));
    expect(missingRoot.files).toEqual([]);
  });
});

describe('assembleContext: unsaved and untrusted', () => {
  it('editor content overrides disk', async () => {
    const root = ws({ 'cur.ts': '', 'a.ts': 'on disk' });
    const r = await assembleContext(opts(root, 'cur.ts', { openDocuments: [{ file: 'a.ts', text: 'unsaved edit' }] }));
    expect(r.payload.files).toEqual([{ file: 'a.ts', text: 'unsaved edit' }]);
  });

  it('untrusted: only open editors’ content, nothing read from disk except ignore rules', async () => {
    const files = new Map([
      ['cur.ts', ''],
      ['disk.ts', 'on disk'],
      ['imported.ts', 'on disk'],
      ['.gitignore', 'ignored.ts\n'],
    ]);
    const { fs, counts } = memoryFs('/ws', files);
    const r = await assembleContext(
      {
        workspaceRoot: '/ws',
        currentFile: 'cur.ts',
        prefix: "import './imported';\nimport './open';",
        suffix: '',
        maxContextTokens: BIG,
        trusted: false,
        openFiles: ['disk.ts'],
        openDocuments: [
          { file: 'open.ts', text: 'open editor' },
          { file: 'ignored.ts', text: 'ignored editor' },
        ],
        fs,
      },
      new GitignoreCache(),
    );
    expect(r.files).toEqual(['open.ts']);
    expect(reasonOf(r, 'disk.ts')).toBe('untrusted');
    expect(reasonOf(r, 'ignored.ts')).toBe('gitignored');
    expect(counts.readPaths.filter((p) => !p.endsWith('.gitignore'))).toEqual([]);
    expect(counts.readdir).toBe(0);
  });
});

describe('assembleContext: bounded work', () => {
  it('on a 50k-file workspace reads only candidates, their .gitignores and one folder listing', async () => {
    const files = new Map<string, string>();
    for (let i = 0; i < 50_000; i++) files.set(`packages/p${i % 500}/src/f${i}.ts`, `export const v${i} = ${i};`);
    files.set('.gitignore', 'dist/\n');
    files.set('app/src/main.ts', '');
    files.set('app/src/util.ts', "import '../lib/deep';");
    files.set('app/lib/deep.ts', '');
    for (let i = 0; i < 100; i++) files.set(`app/src/sib${i}.ts`, '');
    const { fs, counts } = memoryFs('/big', files);
    const cache = new GitignoreCache();
    const t0 = Date.now();
    const r = await assembleContext(
      {
        workspaceRoot: '/big',
        currentFile: 'app/src/main.ts',
        prefix: "import { u } from './util';\n",
        suffix: '',
        maxContextTokens: BIG,
        openFiles: ['packages/p1/src/f1.ts'],
        fs,
      },
      cache,
    );
    // The work is bounded by the counts below, which load cannot change; the time is a measurement.
    console.log(`[assemble] 50k-file workspace: ${Date.now() - t0} ms`);
    expect(r.files.slice(0, 3)).toEqual(['app/src/util.ts', 'app/lib/deep.ts', 'packages/p1/src/f1.ts']);
    expect(counts.readdir).toBe(1);
    expect(counts.readFile).toBeLessThanOrEqual(40);
    expect(counts.stat).toBeLessThan(200);
    // A second assembly reuses the parsed .gitignore files.
    const parses = cache.parses;
    await assembleContext({ workspaceRoot: '/big', currentFile: 'app/src/main.ts', prefix: '', suffix: '', maxContextTokens: BIG, fs }, cache);
    expect(cache.parses).toBe(parses);
  });

  it('a single folder of 50k files costs one listing and reads only the capped same-folder files', async () => {
    const files = new Map<string, string>();
    for (let i = 0; i < 50_000; i++) files.set(`src/f${i}.ts`, `export const v${i} = ${i};`);
    const { fs, counts } = memoryFs('/flat', files);
    const t0 = Date.now();
    const r = await assembleContext({ workspaceRoot: '/flat', currentFile: 'src/f1.ts', prefix: '', suffix: '', maxContextTokens: BIG, fs }, new GitignoreCache());
    console.log(`[assemble] one folder of 50k files: ${Date.now() - t0} ms`);
    expect(r.files).toHaveLength(30);
    expect(counts.readdir).toBe(1);
    expect(counts.readFile).toBe(30);
  });
});

describe('assembleContext: what the caps cut off the current file', () => {
  const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `const ${tag}${i} = ${i};\n`).join('');

  it('is sent beside the placed prefix and suffix (head, tail) for the language service, and only then', async () => {
    const root = ws({ 'a.ts': '' });
    const prefix = lines(2000, 'p');
    const suffix = lines(2000, 's');
    const r = await assembleContext({ workspaceRoot: root, currentFile: 'a.ts', prefix, suffix, maxContextTokens: 1024 });
    const c = r.payload.current;
    expect(c.head! + c.prefix).toBe(prefix);
    expect(c.head!.length).toBe(r.prefixStart);
    expect(c.suffix + c.tail!).toBe(suffix);
    expect(c.prefix.length).toBeLessThan(prefix.length);
    const small = await assembleContext({ workspaceRoot: root, currentFile: 'a.ts', prefix: 'const a = 1;\n', suffix: '\n', maxContextTokens: 1024 });
    expect(small.payload.current).toEqual({ file: 'a.ts', prefix: 'const a = 1;\n', suffix: '\n' });
  });

  it('is left out when it would exceed the size limit of a context file', async () => {
    const root = ws({ 'a.ts': '' });
    const r = await assembleContext({ workspaceRoot: root, currentFile: 'a.ts', prefix: lines(60_000, 'p'), suffix: '', maxContextTokens: 1024 });
    expect(r.payload.current.head).toBeUndefined();
    expect(r.prefixStart).toBeGreaterThan(1024 * 1024);
  });
});

describe('assembleContext: files only the language service reads (serviceFiles)', () => {
  const big = (tag: string) => Array.from({ length: 400 }, (_, i) => `export const ${tag}${i} = ${i};\n`).join('');

  it('sends the script candidates the budget left out, whole and in candidate order, and none that were placed', async () => {
    const root = ws({
      'src/main.ts': "import { a } from './a';\nimport { b } from './b';\n",
      'src/a.ts': "import { t } from './types';\n" + big('a'),
      'src/b.ts': big('b'),
      'src/types.ts': 'export interface T { x: number }\n',
      'src/notes.md': big('m'),
    });
    const r = await assembleContext({ ...opts(root, 'src/main.ts'), maxContextTokens: 6000 });
    const placed = r.payload.files.map((f) => f.file);
    const service = (r.payload.serviceFiles ?? []).map((f) => f.file);
    expect(placed).toEqual(['src/a.ts']);
    expect(service).toEqual(['src/b.ts', 'src/types.ts']); // import, transitive; the .md is no script
    expect(r.payload.serviceFiles![0].text).toBe(readFileSync(path.join(root, 'src/b.ts'), 'utf8'));
    const all = await assembleContext(opts(root, 'src/main.ts'), new GitignoreCache());
    expect(all.payload.serviceFiles).toBeUndefined(); // everything fit
  });

  it('passes the same gate as placed files: no .env, keys, gitignored or files.exclude-d file', async () => {
    const root = ws({
      '.gitignore': 'ignored.ts\n',
      'main.ts': "import './ignored';\nimport './excluded';\nimport './keyed';\nimport './fine';\nimport './filler';\n",
      'ignored.ts': 'export const secret = 1;\n',
      'excluded.ts': 'export const hidden = 1;\n',
      'keyed.ts': 'const k = `-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----`;\n',
      'filler.ts': big('f'),
      'fine.ts': 'export const fine = 1;\n',
      '.env.ts': 'export const TOKEN = "x";\n',
    });
    const r = await assembleContext({ ...opts(root, 'main.ts'), excludeGlobs: ['excluded.ts'], maxContextTokens: 400 }, new GitignoreCache());
    const service = (r.payload.serviceFiles ?? []).map((f) => f.file);
    const placed = r.payload.files.map((f) => f.file);
    expect(placed).toContain('fine.ts');
    expect(service).toEqual(['filler.ts']);
    for (const f of ['ignored.ts', 'excluded.ts', 'keyed.ts', '.env.ts']) expect([...placed, ...service]).not.toContain(f);
    expect(reasonOf(r, 'ignored.ts')).toBe('gitignored');
  });

  it('stops at its byte cap', async () => {
    const files: Record<string, string> = { 'main.ts': '' };
    for (let i = 0; i < 12; i++) files[`f${i}.ts`] = `export const f${i} = 1;\n` + '// filler line\n'.repeat(14_000);
    const root = ws(files);
    const r = await assembleContext({ ...opts(root, 'main.ts'), maxContextTokens: 1024 }, new GitignoreCache());
    const service = r.payload.serviceFiles ?? [];
    expect(service.length).toBeGreaterThan(0);
    expect(service.length).toBeLessThan(12);
    expect(service.reduce((n, f) => n + f.text.length, 0)).toBeLessThanOrEqual(1024 * 1024);
  });
});
