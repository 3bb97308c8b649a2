import { describe, expect, it } from 'vitest';
import { pick } from '../../../src/engine/decode/sampling';
import { lineStop, repetitionBans, trimAtStop } from '../../../src/engine/decode/stop-rules';

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
  it('sampling stays inside the allowed tokens', () => {
    for (let seed = 0; seed < 20; seed++) {
      const t = pick(logits, { temperature: 1 }, () => (seed + 0.5) / 20, { allowed: Uint8Array.from([0, 1, 0, 1]) });
      expect([1, 3]).toContain(t);
    }
  });
});
