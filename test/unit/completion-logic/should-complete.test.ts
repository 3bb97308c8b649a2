import { describe, expect, it } from 'vitest';
import { shouldComplete, whyNotComplete } from '../../../src/completion-logic/should-complete';
import { decideMultiline, inLineComment } from '../../../src/completion-logic/multiline';

const base = { cursorCount: 1, selectionEmpty: true, lineSuffix: '' };

describe('shouldComplete', () => {
  it.each([
    [{ ...base }, undefined],
    [{ ...base, cursorCount: 2 }, 'multiple-cursors'],
    [{ ...base, selectionEmpty: false }, 'selection'],
    [{ ...base, lineSuffix: 'oo()' }, 'mid-word'],
    [{ ...base, lineSuffix: 'é' }, 'mid-word'],
    [{ ...base, lineSuffix: '_x' }, 'mid-word'],
    [{ ...base, lineSuffix: ')' }, undefined],
    [{ ...base, lineSuffix: ' ) + 1;' }, undefined],
    [{ ...base, lineSuffix: ', "12345678")' }, 'text-after-cursor'],
    [{ ...base, lineSuffix: ', b, c, d)' }, undefined], // 8 non-space chars
    [{ ...base, lineSuffix: 'oo()', manual: true }, undefined],
    [{ ...base, cursorCount: 3, manual: true }, 'multiple-cursors'],
  ])('%j → %s', (trigger, reason) => {
    expect(whyNotComplete(trigger)).toBe(reason);
    expect(shouldComplete(trigger)).toBe(reason === undefined);
  });
});

describe('decideMultiline', () => {
  it.each([
    ['empty line', 'function f() {\n  ', '\n}', 'typescript', true],
    ['after an opening brace', 'if (ok) {', '', 'typescript', true],
    ['after an opening brace with the auto-closed one right of it', 'if (ok) {', '}', 'typescript', true],
    ['after an opening paren', 'const s = createServer(', ')', 'typescript', true],
    ['after a colon (python)', 'def f(x):', '\n', 'python', true],
    ['doc comment opening', '  /**', '', 'typescript', true],
    ['mid-statement', 'const x = ', '', 'typescript', false],
    ['text right of the cursor', 'foo(', 'a, b)', 'typescript', false],
    ['inside a line comment', '  // explain the {', '', 'typescript', false],
    ['inside a python comment', 'x = 1  # note:', '', 'python', false],
    ['// inside a string is not a comment', "const url = 'http://x', f = {", '', 'typescript', true],
  ])('%s → %s', (_name, prefix, suffix, lang, expected) => {
    expect(decideMultiline(prefix, suffix, lang)).toBe(expected);
  });

  it('inLineComment respects quotes and languages', () => {
    expect(inLineComment('s = "#" + x', 'python')).toBe(false);
    expect(inLineComment('a // b', 'python')).toBe(false);
    expect(inLineComment('select 1 -- c', 'sql')).toBe(true);
  });
});
