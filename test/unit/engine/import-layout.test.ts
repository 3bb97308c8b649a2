// Imported models (training/pipeline/import_hf.py) name their own special tokens and FIM layout in the
// manifest: the stream uses those ids, `psm` puts the suffix after the prefix, `none` drops the suffix
// (plain prefix completion), and without a file-separator token the headers are plain comment lines.
import { readFileSync } from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SPECIALS, EncodingCache, buildStream } from '../../../src/engine/layout';
import { ModelError, specialsOf, type Manifest } from '../../../src/engine/model';
import { BpeTokenizer, SPECIAL } from '../../../src/engine/tokenizer';

const tok = new BpeTokenizer(JSON.parse(readFileSync(path.join(__dirname, '../../../models/default/tokenizer.json'), 'utf8')));
const ctx = {
  files: [{ file: 'a.ts', text: 'export const a = 1;\n' }],
  current: { file: 'main.ts', prefix: 'const x = ', suffix: ';\nconsole.log(x);\n' },
};
const manifest = (extra: Record<string, unknown>) => ({ format: 1, name: 'm', config: {}, graphs: {}, tokenizer: 't', files: {}, ...extra }) as unknown as Manifest;
const text = (ids: number[]) => tok.decode(ids);

describe('special tokens from the manifest', () => {
  it('the default model keeps ids 0-4 and the suffix-first layout', () => {
    const sp = specialsOf(manifest({ specialTokens: { eot: 0, fimPrefix: 1, fimMiddle: 2, fimSuffix: 3, fileSep: 4 } }), 4096);
    expect(sp.fim).toBe('spm');
    expect([sp.eot, sp.fimPrefix, sp.fimMiddle, sp.fimSuffix, sp.fileSep]).toEqual([0, 1, 2, 3, 4]);
    const a = buildStream(ctx, tok, new EncodingCache(tok), 4096, sp);
    const b = buildStream(ctx, tok, new EncodingCache(tok), 4096);
    expect(a.ids).toEqual(b.ids);
    expect(b.ids.indexOf(SPECIAL.fimSuffix)).toBeLessThan(b.ids.indexOf(SPECIAL.fimPrefix));
    expect(text(b.ids.slice(b.prefixStart))).toBe('const x = ');
  });

  it('psm: <fim_prefix> prefix <fim_suffix> suffix <fim_middle>, with the manifest ids and a BOS', () => {
    const sp = specialsOf(manifest({ fim: 'psm', source: {}, specialTokens: { eot: 0, bos: 4, fimPrefix: 1, fimMiddle: 2, fimSuffix: 3, fileSep: null, stop: [0, 7] } }), 4096);
    expect(sp.fileSep).toBeUndefined();
    expect([...sp.stop].sort()).toEqual([0, 1, 2, 3, 7]);
    const s = buildStream(ctx, tok, new EncodingCache(tok), 4096, sp);
    expect(s.ids[0]).toBe(4);
    expect(s.ids.at(-1)).toBe(2);
    const p = s.ids.indexOf(1);
    const q = s.ids.indexOf(3);
    expect(p).toBe(s.prefixStart - 1);
    expect(text(s.ids.slice(p + 1, q))).toBe('const x = ');
    expect(text(s.ids.slice(q + 1, -1))).toBe(';\nconsole.log(x);\n');
    expect(text(s.ids.slice(1, p))).toBe('// a.ts\nexport const a = 1;\n// main.ts\n'); // plain headers
  });

  it('no FIM tokens: the prefix alone ends the stream', () => {
    const sp = specialsOf(manifest({ fim: 'none', source: {}, specialTokens: { eot: 0, fimPrefix: null, fimMiddle: null, fimSuffix: null, fileSep: 4 } }), 4096);
    expect(sp.fim).toBe('none');
    const s = buildStream(ctx, tok, new EncodingCache(tok), 4096, sp);
    expect(s.ids.filter((i) => i >= 1 && i <= 3)).toEqual([]);
    expect(text(s.ids.slice(s.prefixStart))).toBe('const x = ');
    expect(s.ids.at(-1)).not.toBe(2);
  });

  it('psm without the tokens falls back to none; a bad id is refused', () => {
    expect(specialsOf(manifest({ fim: 'psm', source: {}, specialTokens: { eot: 0 } }), 10).fim).toBe('none');
    expect(() => specialsOf(manifest({ fim: 'psm', source: {}, specialTokens: { eot: 99 } }), 10)).toThrow(ModelError);
    expect(DEFAULT_SPECIALS.fim).toBe('spm');
  });
});
