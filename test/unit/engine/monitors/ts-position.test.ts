import { describe, expect, it } from 'vitest';
import * as ts from 'typescript';
import { positionOf } from '../../../../src/engine/monitors/ts-position';

/** The position at `|` in `text` (the bar removed), parsed as `file`. */
function at(text: string, file = 'a.ts'): 'type' | undefined {
  const pos = text.indexOf('|');
  const src = text.slice(0, pos) + text.slice(pos + 1);
  return positionOf(ts.createSourceFile(file, src, ts.ScriptTarget.Latest, true), pos);
}

describe('positionOf: where the cursor identifier stands', () => {
  it('reads type annotations, type arguments and type aliases as types', () => {
    expect(at('interface A {\n  path?: |\n  next: number;\n}\n')).toBe('type');
    expect(at('const r: |\nfoo();\n')).toBe('type');
    expect(at('function f(opts: Options<|\n')).toBe('type');
    expect(at('type A = |\nconst b = 1;\n')).toBe('type');
    expect(at('let m: Map<string, |>;\n')).toBe('type');
    expect(at('function f(x: St|) {}\n')).toBe('type');
    // nothing but spacing after the cursor: the parser's missing type sits before the spacing
    expect(at('let t: |')).toBe('type');
    expect(at('class A {\n  x: |\n}\n')).toBe('type');
  });

  it('leaves expressions alone: arguments, values after =, returns, typeof in a type, a class heritage', () => {
    expect(at('foo(|\nbar();\n')).toBeUndefined();
    expect(at('const x = |\nbar();\n')).toBeUndefined();
    expect(at('function f() {\n  return |\n}\n')).toBeUndefined();
    expect(at('f(a, b|)\n')).toBeUndefined();
    expect(at('let t: typeof |\n')).toBeUndefined();
    expect(at('class A extends |\n{}\n')).toBeUndefined();
    expect(at('if (x === |) {}\n')).toBeUndefined();
  });

  it('leaves names alone: a parameter or type parameter being declared, a parameter or key inside a type', () => {
    expect(at('function resolve(|\n  return 1;\n')).toBeUndefined();
    expect(at('type P<A extends boolean, |> = A;\n')).toBeUndefined();
    expect(at('let f: (|) => void;\n')).toBeUndefined();
    expect(at('let f: (a: number, |) => void;\n')).toBeUndefined();
    expect(at('let o: { |: number };\n')).toBeUndefined();
    expect(at('let f: (v: |) => void;\n')).toBe('type');
  });

  it('reads JavaScript the same way (no types: nothing)', () => {
    expect(at('function resolve(|\n', 'a.js')).toBeUndefined();
    expect(at('const o = { a: |\n}\n', 'a.js')).toBeUndefined();
  });
});
