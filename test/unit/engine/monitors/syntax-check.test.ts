import { describe, expect, it } from 'vitest';
import { SyntaxBase, balancedCuts, syntaxSafeLength } from '../../../../src/engine/monitors/syntax-check';
import { SYNTAX_AROUND_CHARS, parsedAround } from '../../../../src/engine/monitors/syntax-cut';

/** Token-boundary lengths of `s` at every space and punctuation boundary (a stand-in for BPE). */
function boundaries(s: string): number[] {
  const out: number[] = [];
  const re = /\w+|\s+|[^\w\s]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m.index + m[0].length);
  return out.filter((n) => n < s.length);
}

function safe(file: string, prefix: string, completion: string, suffix: string) {
  const base = new SyntaxBase(file, prefix, suffix);
  return syntaxSafeLength(base, completion, boundaries(completion), 1000, 64);
}

describe('syntaxSafeLength', () => {
  it('keeps a completion that adds no error', () => {
    const r = safe('a.ts', 'function f(q: number[]) {\n  q.', 'push(1);', '\n  return q;\n}\n');
    expect(r).toMatchObject({ keep: 'push(1);'.length, unresolved: false });
  });

  it('cuts back an expression left open before the next statement', () => {
    // `queue.push(a, b,` followed by `return …` on the next line: the error is after the insertion
    const prefix = 'function f(queue: number[], a: number, b: number) {\n  queue.';
    const completion = 'push(a, b,';
    const suffix = '\n  return queue;\n}\n';
    const r = safe('a.ts', prefix, completion, suffix);
    expect(r.unresolved).toBe(false);
    const kept = completion.slice(0, r.keep);
    expect(kept.length).toBeGreaterThan(0);
    expect(new SyntaxBase('a.ts', prefix, suffix).check(kept).errors).toEqual([]);
    expect(kept.startsWith('push')).toBe(true);
  });

  it('cuts before an unterminated string inside the insertion', () => {
    const prefix = 'function f(el: { color: string }) {\n  el.color = ';
    const completion = 'other + "urn:schem';
    const r = safe('a.js', prefix, completion, '\n}\n');
    expect(completion.slice(0, r.keep).includes('"')).toBe(false);
    expect(new SyntaxBase('a.js', prefix, '\n}\n').check(completion.slice(0, r.keep)).errors).toEqual([]);
  });

  it('does not count an error the file already had at the same place', () => {
    // the file is broken after the cut with or without the completion (`a.` then `)`)
    const base = new SyntaxBase('y.js', 'const b = a.', ')\nbar();\n');
    expect(base.check('length').errors).toEqual([]);
    expect(base.check('length +;').errors.length).toBeGreaterThan(0);
  });

  it('gives up within its parse budget and keeps the cut before the first error inside', () => {
    const prefix = 'const x = ';
    const completion = 'a + (b * c) + + ; d';
    const base = new SyntaxBase('a.ts', prefix, '\n');
    const r = syntaxSafeLength(base, completion, boundaries(completion), 1000, 1);
    expect(r.unresolved).toBe(true);
    expect(r.tries).toBe(1);
    expect(r.keep).toBeLessThan(completion.indexOf(';') + 1);
  });
});

describe('balancedCuts', () => {
  it('marks the lengths where the completion closed what it opened', () => {
    const c = 'push(a, "x)", b),';
    const cuts = balancedCuts(c);
    expect(cuts.has(4)).toBe(true); // `push`
    expect(cuts.has(8)).toBe(false); // inside the call
    expect(cuts.has(10)).toBe(false); // inside the string
    expect(cuts.has(c.length - 1)).toBe(true); // after `)`
  });

  it('a closer of a bracket the prefix opened does not count as opened', () => {
    expect(balancedCuts('error] || x').has(6)).toBe(true);
  });
});

describe('parsedAround: the file text the syntax check reads', () => {
  const head = 'export class Requests {\n  private pending = new Map<number, string>();\n\n';
  const current = { prefix: '  public size() {\n    return this.pending.size;\n  }\n\n  public hasPending', suffix: '\n    return this.pending.size > 0;\n  }\n}\n' };
  it('a member header completed inside a class whose header the context cut off adds no error with the head read', () => {
    const without = new SyntaxBase('a.ts', current.prefix, current.suffix).check('() {');
    expect(without.errors.length).toBeGreaterThan(0); // `public m() {` read as a statement
    const around = parsedAround({ ...current, head });
    expect(around.prefix).toBe(head + current.prefix);
    expect(new SyntaxBase('a.ts', around.prefix, around.suffix).check('() {').errors).toEqual([]);
    // the cut line is still the same: a real error is still found
    expect(new SyntaxBase('a.ts', around.prefix, around.suffix).check('() => {').errors.length).toBeGreaterThan(0);
  });
  it('a long head and tail are read up to SYNTAX_AROUND_CHARS, the head from a line with no indentation', () => {
    const filler = (n: number) => '  x = 1;\n'.repeat(n);
    const longHead = 'const a = 1;\nexport class B {\n' + filler(SYNTAX_AROUND_CHARS / 8) + '}\nexport class Requests {\n' + filler(SYNTAX_AROUND_CHARS / 32);
    const around = parsedAround({ ...current, head: longHead, tail: 'y'.repeat(2 * SYNTAX_AROUND_CHARS) });
    const readHead = around.prefix.slice(0, around.prefix.length - current.prefix.length);
    expect(readHead.length).toBeLessThanOrEqual(SYNTAX_AROUND_CHARS);
    expect(readHead.startsWith('export class Requests {\n')).toBe(true);
    expect(around.suffix.length).toBe(current.suffix.length + SYNTAX_AROUND_CHARS);
    expect(parsedAround(current)).toEqual(current);
  });
});
