import { describe, expect, it } from 'vitest';
import { CompletionCache, LruCache } from '../../../src/completion-logic/lru-cache';
import { TypingAsSuggested } from '../../../src/completion-logic/typing-as-suggested';

describe('TypingAsSuggested', () => {
  const prefix = 'const total = ';
  const shown = () => {
    const t = new TypingAsSuggested();
    t.remember({ documentKey: 'file:///a.ts', offset: prefix.length, textBefore: prefix, completion: 'items.length;' });
    return t;
  };

  it('returns the remainder while the user types the suggestion’s start', () => {
    const t = shown();
    expect(t.lookup('file:///a.ts', prefix.length, prefix)).toBe('items.length;');
    expect(t.lookup('file:///a.ts', prefix.length + 3, prefix + 'ite')).toBe('ms.length;');
    expect(t.lookup('file:///a.ts', prefix.length + 6, prefix + 'items.')).toBe('length;');
  });

  it('works with a fixed-size tail window as textBefore', () => {
    const t = new TypingAsSuggested();
    t.remember({ documentKey: 'k', offset: 100, textBefore: 'abcdef', completion: 'XYZ' });
    expect(t.lookup('k', 102, 'cdefXY')).toBe('Z');
  });

  it('is invalidated by a mismatch', () => {
    const t = shown();
    expect(t.lookup('file:///a.ts', prefix.length + 1, prefix + 'x')).toBeUndefined();
    expect(t.lookup('file:///a.ts', prefix.length + 1, prefix + 'i')).toBeUndefined(); // stays invalid
  });

  it('is invalidated by a cursor jump or another document', () => {
    const t = shown();
    expect(t.lookup('file:///a.ts', prefix.length - 2, prefix.slice(0, -2))).toBeUndefined();
    expect(t.lookup('file:///a.ts', prefix.length + 1, prefix + 'i')).toBeUndefined();
    const u = shown();
    expect(u.lookup('file:///b.ts', prefix.length + 1, prefix + 'i')).toBeUndefined();
    expect(u.lookup('file:///a.ts', prefix.length + 1, prefix + 'i')).toBeUndefined();
  });

  it('ends when the whole suggestion has been typed', () => {
    const t = shown();
    expect(t.lookup('file:///a.ts', prefix.length + 13, prefix + 'items.length;')).toBeUndefined();
  });

  it('an empty suggestion is not remembered', () => {
    const t = new TypingAsSuggested();
    t.remember({ documentKey: 'k', offset: 0, textBefore: '', completion: '' });
    expect(t.lookup('k', 0, '')).toBeUndefined();
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry beyond capacity', () => {
    const c = new LruCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });
  it('defaults to 100 entries', () => {
    const c = new LruCache<number>();
    for (let i = 0; i < 150; i++) c.set(`k${i}`, i);
    expect(c.size).toBe(100);
    expect(c.get('k49')).toBeUndefined();
    expect(c.get('k50')).toBe(50);
  });
});

describe('CompletionCache', () => {
  it('hits on the same document, prefix and suffix only', () => {
    const c = new CompletionCache();
    c.set('a.ts', 'let x = ', ';\n', '42');
    expect(c.get('a.ts', 'let x = ', ';\n')).toBe('42');
    expect(c.get('b.ts', 'let x = ', ';\n')).toBeUndefined();
    expect(c.get('a.ts', 'let y = ', ';\n')).toBeUndefined();
    expect(c.get('a.ts', 'let x = ', '\n')).toBeUndefined();
  });
  it('walks back over typed characters that match a cached completion', () => {
    const c = new CompletionCache();
    c.set('a.ts', 'return ', '\n}', 'this.items.length;');
    expect(c.find('a.ts', 'return this.it', '\n}')).toBe('ems.length;');
    expect(c.find('a.ts', 'return that', '\n}')).toBeUndefined();
    expect(c.find('a.ts', 'return ', '\n}')).toBe('this.items.length;');
  });
  it('keys on the text near the cursor, not the whole file', () => {
    const c = new CompletionCache();
    const far = 'x'.repeat(10_000);
    c.set('a.ts', `A${far}let v = `, '', '1');
    expect(c.get('a.ts', `B${far}let v = `, '')).toBe('1');
  });
});
