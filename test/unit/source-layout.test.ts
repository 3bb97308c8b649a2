// The source tree's layout rules (README "Architecture"): src/extension/ means "imports vscode",
// and every other folder is plain TypeScript; each side of the IPC has one CancelledError.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(__dirname, '../../src');
const files = (fs.readdirSync(src, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ rel: `src/${f.split(path.sep).join('/')}`, text: fs.readFileSync(path.join(src, f), 'utf8') }));
const importsVscode = (text: string) => /(?:from\s+|require\()\s*['"]vscode['"]/.test(text);

describe('source layout', () => {
  it('every file in src/extension/ imports vscode, and no file outside it does', () => {
    expect(files.length).toBeGreaterThan(50);
    const inExtension = (f: { rel: string }) => f.rel.startsWith('src/extension/');
    expect(files.filter((f) => inExtension(f) && !importsVscode(f.text)).map((f) => f.rel)).toEqual([]);
    expect(files.filter((f) => !inExtension(f) && importsVscode(f.text)).map((f) => f.rel)).toEqual([]);
  });

  it('one CancelledError per side: the engine (src/engine/) and the extension (src/engine-client/errors.ts)', () => {
    const defining = files.filter((f) => /class\s+CancelledError\b/.test(f.text)).map((f) => f.rel);
    expect(defining.filter((f) => f.startsWith('src/engine/'))).toHaveLength(1);
    expect(defining.filter((f) => !f.startsWith('src/engine/'))).toEqual(['src/engine-client/errors.ts']);
  });
});
