import { describe, expect, it } from 'vitest';
import { classShift, pick } from '../../../src/engine/decode/sampling';
import { lineStop, repeatsLineAbove, repetitionBans, trimAtStop, uselessAt } from '../../../src/engine/decode/stop-rules';

describe('repetition rules', () => {
  it('bans the token that would make a 3-token span occur a third time on the line', () => {
    // r : number , r : number , r : → the third "r : number" is banned
    const R = 1, COLON = 2, NUM = 3, COMMA = 4;
    const out = [R, COLON, NUM, COMMA, R, COLON, NUM, COMMA, R, COLON];
    expect([...(repetitionBans(out) ?? [])]).toEqual([NUM]);
    expect(repetitionBans(out.slice(0, 6))).toBeUndefined(); // twice is fine
  });

  it('counts only the current line: statements may share spans across lines', () => {
    const out = [1, 2, 3, 9, 1, 2, 3, 9, 1, 2];
    expect(repetitionBans(out, 8)).toBeUndefined();
    expect(repetitionBans(out, 0)?.has(3)).toBe(true);
  });

  it('stops multi-line text at a repeated line and drops the repeat', () => {
    const text = '  a = f(x);\n  b = g(y);\n  a = f(x);\n';
    expect(lineStop(text, true, 2)).toBe('repetition');
    expect(trimAtStop(text, 'repetition')).toBe('  a = f(x);\n  b = g(y);');
    expect(lineStop('  a = 1;\n  b = 2;\n', true, 2)).toBeUndefined();
  });

  it('compares the first line as the whole cursor line: `this.` + `a = this.a;` then `this.a = this.a;` repeats it', () => {
    const text = 'a = this.a;\n    this.a = this.a;\n';
    expect(lineStop(text, true, 4, '    this.')).toBe('repetition');
    expect(trimAtStop(text, 'repetition', '    this.')).toBe('a = this.a;');
    expect(lineStop(text, true, 4)).toBeUndefined(); // without the line's head the lines differ
    // a line that is an earlier line's tail after a dot copies it
    const tail = 'a = this.a;\n    a = this.a;\n';
    expect(lineStop(tail, true, 4, '    this.')).toBe('repetition');
    expect(trimAtStop(tail, 'repetition', '    this.')).toBe('a = this.a;');
    expect(lineStop('if (!m) return null;\n  return null;\n', true, 2)).toBeUndefined();
  });

  it('a suggestion on a blank line that starts with the line above repeats it; short lines, mid-line text and other lines do not', () => {
    const prefix = 'function f() {\n  this.count = 0;\n\n  ';
    expect(repeatsLineAbove(prefix, 'this.count = 0;\n')).toBe(true); // blank lines between are skipped
    expect(repeatsLineAbove(prefix, '\n  this.count = 0;')).toBe(true); // its first non-blank line
    expect(repeatsLineAbove(prefix, 'this.count = 1;')).toBe(false);
    expect(repeatsLineAbove(prefix, 'return this;\n  this.count = 0;')).toBe(false);
    expect(repeatsLineAbove('  this.count = 0;\n  this.', 'count = 0;')).toBe(true); // completed, the cursor's line copies it
    expect(repeatsLineAbove('  this.count = 0;\n  this.', 'total = 0;')).toBe(false);
    expect(repeatsLineAbove('  },\n  ', '},')).toBe(false); // short lines may repeat
    expect(repeatsLineAbove('  x = 12345678;\n  ', 'x = 12345678;')).toBe(true);
    expect(repeatsLineAbove('  ', 'this.count = 0;')).toBe(false); // no line above
    // the line above without its receiver is a copy too; another statement that ends it is not
    expect(repeatsLineAbove('\tthis._latlngs = this._latlngs;\n\t', '_latlngs = this._latlngs;')).toBe(true);
    expect(repeatsLineAbove('\tif (!map) return null;\n\t', 'return null;')).toBe(false);
    // at the end of a typed line, a suggestion that goes on to the next line with a copy of it
    expect(repeatsLineAbove('\tthis._latlngs = this._latlngs;', '\n\t_latlngs = this._latlngs;')).toBe(true);
    expect(repeatsLineAbove('\tthis._latlngs = this._latlngs;', '\n\n\tthis._latlngs = this._latlngs;')).toBe(true);
    expect(repeatsLineAbove('\tthis._latlngs = this._latlngs;', '\n\treturn this._latlngs;')).toBe(false);
    expect(repeatsLineAbove('\tthis._latlngs = this.', '_latlngs;\n\tthis._latlngs = this._latlngs;')).toBe(false); // mid-line: the line's own end
  });

  it('where a useless suggestion is decoded again: a copy of the line above from its start, a self-assignment from its right-hand side', () => {
    expect(uselessAt('\tthis._latlngs = this._latlngs;\n\t', '_latlngs = this._latlngs;')).toBe(0);
    expect(uselessAt('\tfoo();\n', '\n\tthis.count = 0;\n\tthis.count = 0;')).toBeUndefined(); // the copy is the multi-line stop's
    // `this.` typed: the name it assigns stays, its value is chosen again
    const text = '_latlngs = this._latlngs;\n';
    expect(uselessAt('\tthis.', text)).toBe(text.indexOf('this'));
    expect(uselessAt('\t', 'this._bounds = this._bounds;')).toBe('this._bounds = '.length);
    expect(uselessAt('\tconst ', 'x = x;')).toBe(4);
    // the right-hand side was already typed: from the suggestion's start
    expect(uselessAt('\tthis._latlngs = this.', '_latlngs;')).toBe(0);
    // at the end of a typed line, the next line's self-assignment
    expect(uselessAt('\tfoo();', '\n\ta.b = a.b;')).toBe('\n\ta.b = '.length);
    expect(uselessAt('\t', 'this._latlngs = latlngs;')).toBeUndefined();
    expect(uselessAt('\t', 'a = a + 1;')).toBeUndefined();
    expect(uselessAt('\t', 'a = a')).toBeUndefined(); // not finished: `a = a\n ? x : y` goes on
    expect(uselessAt('\t', '  ')).toBeUndefined();
  });
});

describe('pick with a token filter', () => {
  const logits = Float32Array.from([5, 1, 2, 0]);
  const rand = () => 0.5;
  it('greedy over the allowed tokens, with the bias added', () => {
    expect(pick(logits, undefined, rand)).toBe(0);
    expect(pick(logits, undefined, rand, { allowed: Uint8Array.from([0, 1, 1, 0]) })).toBe(2);
    expect(pick(logits, undefined, rand, { allowed: Uint8Array.from([0, 1, 1, 0]), bias: Float32Array.from([0, 3, 0, 0]) })).toBe(1);
    expect(pick(logits, undefined, rand, { banned: new Set([0]) })).toBe(2);
  });
  it('a filter that allows nothing is ignored (the model choice beats no suggestion)', () => {
    expect(pick(logits, undefined, rand, { allowed: new Uint8Array(4) })).toBe(0);
  });
  it('a bias held to a class gain reorders the class and leaves the choice between the class and the rest mostly to the model', () => {
    // tokens 1 and 2 are names (the class); 0 is a literal the model prefers to any name
    const bias = Float32Array.from([0, 20, 0, 0]);
    const keepClass = Uint8Array.from([0, 1, 1, 0]);
    expect(pick(logits, undefined, rand, { bias })).toBe(1); // the bias alone overrides the literal
    expect(pick(logits, undefined, rand, { bias, keepClass, classGain: 0 })).toBe(0);
    // the class's mass is the model's, log(e^1 + e^2), given almost all to token 1, plus the gain
    const shift = classShift(logits, { bias, keepClass, classGain: 0.5 });
    expect(1 + 20 - shift).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2)) + 0.5, 4);
    // a gain that covers the model's odds lets the names win
    expect(pick(logits, undefined, rand, { bias, keepClass, classGain: 3 })).toBe(1);
    // where the model prefers a name the biased name wins, even one the model put second
    expect(pick(Float32Array.from([1, 0, 2, 0]), undefined, rand, { bias, keepClass, classGain: 0 })).toBe(1);
    // a closed token of class 2 (a name that does not exist) gives its mass to the class
    const closedName = Float32Array.from([2, 0, -9, 3]);
    const f = { bias, allowed: Uint8Array.from([1, 1, 1, 0]), classGain: 0 };
    expect(pick(closedName, undefined, rand, { ...f, keepClass: Uint8Array.from([0, 1, 1, 0]) })).toBe(0);
    expect(pick(closedName, undefined, rand, { ...f, keepClass: Uint8Array.from([0, 1, 1, 2]) })).toBe(1);
    // a gain larger than the bias adds is no shift; no gain given is the plain bias
    expect(classShift(logits, { bias, keepClass, classGain: 30 })).toBe(0);
    expect(classShift(logits, { bias, keepClass })).toBe(0);
  });
  it('sampling stays inside the allowed tokens', () => {
    for (let seed = 0; seed < 20; seed++) {
      const t = pick(logits, { temperature: 1 }, () => (seed + 0.5) / 20, { allowed: Uint8Array.from([0, 1, 0, 1]) });
      expect([1, 3]).toContain(t);
    }
  });
});
