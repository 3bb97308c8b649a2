import { describe, expect, it } from 'vitest';
import { headMask, headRuleAt } from '../../../../src/engine/monitors/keyword-head';

const TOKENS = ['(', ' (', '((', 'x', ' 0', '{', ' await', '(!', '  ('];
const allowedOf = (mask: Uint8Array) => TOKENS.filter((_, i) => mask[i]);

describe('statement heads', () => {
  it('finds a keyword that needs a parenthesised head, in brace languages only', () => {
    expect(headRuleAt('a.ts', '  if ')).toEqual({ keyword: 'if', spaced: true });
    expect(headRuleAt('a.js', '} else if')).toEqual({ keyword: 'if', spaced: false });
    expect(headRuleAt('A.java', 'while ')).toEqual({ keyword: 'while', spaced: true });
    expect(headRuleAt('a.py', 'if ')).toBeUndefined(); // Python, Go, Rust: no parentheses
    expect(headRuleAt('a.go', 'if ')).toBeUndefined();
    expect(headRuleAt('a.ts', 'const diff ')).toBeUndefined();
    expect(headRuleAt('a.ts', 'x.if ')).toBeUndefined(); // a member named `if`
    expect(headRuleAt('a.ts', 'notif ')).toBeUndefined();
    expect(headRuleAt('a.ts', 'const s = "if ')).toBeUndefined(); // inside a string
    expect(headRuleAt('a.ts', '// loop while ')).toBeUndefined(); // inside a comment
  });

  it('allows only tokens that open the head, with no doubled spacing', () => {
    expect(allowedOf(headMask({ keyword: 'if', spaced: true }, TOKENS))).toEqual(['(', '((', '(!']);
    expect(allowedOf(headMask({ keyword: 'if', spaced: false }, TOKENS))).toEqual(['(', ' (', '((', '(!']);
    expect(allowedOf(headMask({ keyword: 'for', spaced: false }, TOKENS))).toEqual(['(', ' (', '((', ' await', '(!']);
    expect(allowedOf(headMask({ keyword: 'catch', spaced: true }, TOKENS))).toEqual(['(', '((', '{', '(!']);
    // built once per vocabulary and rule form, not at every decoded token
    expect(headMask({ keyword: 'if', spaced: true }, TOKENS)).toBe(headMask({ keyword: 'if', spaced: true }, TOKENS));
    expect(headMask({ keyword: 'if', spaced: true }, TOKENS)).not.toBe(headMask({ keyword: 'if', spaced: false }, TOKENS));
  });
});
