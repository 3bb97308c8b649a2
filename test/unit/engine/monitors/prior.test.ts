import { describe, expect, it } from 'vitest';
import { SCOPE_WEIGHT, contextPrior, enclosingBlock } from '../../../../src/engine/monitors/context-prior';
import { triggerAt, inStringOrComment } from '../../../../src/engine/monitors/triggers';

const cls = (name: string, body: string) => `class ${name} {\n${body}\n}\n`;

describe('context prior: names that followed the same receiver, by scope and recency', () => {
  it('weights the enclosing class above the rest of the file, and ignores `this` of other classes', () => {
    const before = cls('Other', '  f() { return this.foreign + this.foreign; }') +
      'class Cache {\n  get(k) {\n    return this._cache.get(k) ?? this._cache.get(k) ?? this.size;\n  }\n  has(k) {\n    return this.';
    const w = contextPrior({ receiver: 'this', before, after: '\n  }\n}\n', files: [] });
    expect(w.has('foreign')).toBe(false);
    // size: nearest (3 / 1); _cache: ranks 1 and 2 (3/2 + 3/3), relative to the strongest
    expect(w.get('size')).toBe(1);
    expect(w.get('_cache')).toBeCloseTo(2.5 / 3);
  });

  it('ranks the most recent occurrence first', () => {
    const before = 'ps.prefix;\nps.suffix;\nx = ps.';
    const w = contextPrior({ receiver: 'ps', before, after: '', files: [] });
    expect(w.get('suffix')).toBe(1);
    expect(w.get('prefix')!).toBeLessThan(1);
  });

  it('an occurrence in the enclosing function outweighs an equally recent one elsewhere in the file', () => {
    const inBlock = contextPrior({ receiver: 'a', before: 'function f() {\n  a.near;\n  return a.', after: '\n}\n' + 'x;\n'.repeat(20) + 'a.far;\n', files: [] });
    // near: block scope at rank 0; far: file scope (after the cursor) at rank 1
    expect(inBlock.get('near')).toBe(1);
    expect(inBlock.get('far')).toBeCloseTo(SCOPE_WEIGHT.file / 2 / SCOPE_WEIGHT.block);
  });

  it('counts other files at the lowest scope weight', () => {
    const w = contextPrior({ receiver: 'api', before: 'api.get(1);\nreturn api.', after: '', files: [{ text: 'api.post(2); api.post(3); api.post(4);' }] });
    expect(w.get('get')).toBe(1); // same file, nearest
    expect(w.get('post')).toBeGreaterThan(0);
    expect(w.get('post')).toBeLessThan(1);
    expect(SCOPE_WEIGHT.block).toBeGreaterThan(SCOPE_WEIGHT.file);
    expect(SCOPE_WEIGHT.file).toBeGreaterThan(SCOPE_WEIGHT.other);
  });

  it('does not count the member access being generated, even when the suffix continues it', () => {
    const w = contextPrior({ receiver: 'a', before: 'a.x;\nreturn a.', after: 'y;\n', files: [] });
    expect([...w.keys()]).toEqual(['x']);
  });

  it('finds the enclosing class by indentation', () => {
    const before = 'class A {\n  m() {\n    this.';
    const [s, e] = enclosingBlock(before, '\n  }\n}\nconst z = 1;\n', true)!;
    expect((before + '\n  }\n}\nconst z = 1;\n').slice(s, e)).toBe('class A {\n  m() {\n    this.\n  }'); // up to the line that closes it
  });
});

describe('trigger points', () => {
  it('member access with a plain receiver, mid-identifier too', () => {
    expect(triggerAt('return this._cache.')).toMatchObject({ kind: 'member', typed: '', receiver: 'this._cache' });
    expect(triggerAt('x = ps.pre')).toMatchObject({ kind: 'member', typed: 'pre', receiver: 'ps' });
    expect(triggerAt('f(a).')).toMatchObject({ kind: 'member', receiver: undefined });
  });
  it('identifier starts in expression positions', () => {
    expect(triggerAt('foo(a, ')).toMatchObject({ kind: 'ident', typed: '' });
    expect(triggerAt('const x = ')).toMatchObject({ kind: 'ident' });
    expect(triggerAt('  return va')).toMatchObject({ kind: 'ident', typed: 'va' });
  });
  it('no trigger in strings, comments, numbers, spreads or declarations', () => {
    expect(triggerAt('s = "a.')).toBeUndefined();
    expect(triggerAt('// see foo.')).toBeUndefined();
    expect(triggerAt('x = 1.')).toBeUndefined();
    expect(triggerAt('f(...')).toBeUndefined();
    expect(triggerAt('const ')).toBeUndefined();
    expect(inStringOrComment("a = 'it''s' + b")).toBe(false);
  });
});
