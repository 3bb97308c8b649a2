import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import { GitignoreCache, GitignoreMatcher } from '../../../src/context/gitignore';
import { nodeFs } from '../../../src/context/node-fs';
import { makeWorkspace } from '../../fixtures/context/workspace';

describe('GitignoreMatcher', () => {
  let cleanup = () => {};
  afterEach(() => cleanup());

  const setup = () => {
    const ws = makeWorkspace({
      '.gitignore': 'dist/\n*.log\n/secret.ts\n!keep.log\n',
      'pkg/.gitignore': 'generated.ts\n!important.log\nlocal/\n',
      'pkg/deeper/.gitignore': '!generated.ts\n',
      'src/a.ts': '',
    });
    cleanup = ws.cleanup;
    return ws.root;
  };

  it('applies root, nested and negated rules the way git does', async () => {
    const root = setup();
    const m = new GitignoreMatcher(root, nodeFs, new GitignoreCache());
    expect(await m.isIgnored('src/a.ts')).toBe(false);
    expect(await m.isIgnored('dist/bundle.js')).toBe(true); // folder rule
    expect(await m.isIgnored('pkg/dist/x.js')).toBe(true); // 'dist/' matches at any depth
    expect(await m.isIgnored('debug.log')).toBe(true);
    expect(await m.isIgnored('keep.log')).toBe(false); // negation
    expect(await m.isIgnored('secret.ts')).toBe(true); // anchored
    expect(await m.isIgnored('src/secret.ts')).toBe(false);
    expect(await m.isIgnored('pkg/generated.ts')).toBe(true); // nested file
    expect(await m.isIgnored('generated.ts')).toBe(false); // nested rules stay in their folder
    expect(await m.isIgnored('pkg/important.log')).toBe(false); // deeper negation wins
    expect(await m.isIgnored('pkg/deeper/generated.ts')).toBe(false);
    expect(await m.isIgnored('pkg/local/x.ts')).toBe(true);
  });

  it('cannot re-include a file whose folder is ignored', async () => {
    const ws = makeWorkspace({ '.gitignore': 'vendor/\n', 'vendor/.gitignore': '!*.ts\n', 'vendor/x.ts': '' });
    cleanup = ws.cleanup;
    const m = new GitignoreMatcher(ws.root, nodeFs, new GitignoreCache());
    expect(await m.isIgnored('vendor/x.ts')).toBe(true);
  });

  it('parses each .gitignore once across assemblies and re-parses it when it changes', async () => {
    const root = setup();
    const cache = new GitignoreCache();
    await new GitignoreMatcher(root, nodeFs, cache).isIgnored('pkg/deeper/a.ts');
    const first = cache.parses;
    expect(first).toBe(3);
    await new GitignoreMatcher(root, nodeFs, cache).isIgnored('pkg/deeper/b.ts');
    expect(cache.parses).toBe(first);

    const file = path.join(root, '.gitignore');
    writeFileSync(file, 'src/\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const m = new GitignoreMatcher(root, nodeFs, cache);
    expect(await m.isIgnored('src/a.ts')).toBe(true);
    expect(cache.parses).toBe(first + 1);
  });
});
