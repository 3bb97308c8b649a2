import { describe, expect, it } from 'vitest';
import { lineColToOffset, offsetToLineCol, splitAtPosition } from '../../../src/context/positions';

describe('lineColToOffset / offsetToLineCol (1-based)', () => {
  const text = 'ab\ncde\n\nf';
  it.each([
    [1, 1, 0],
    [1, 3, 2],
    [2, 1, 3],
    [2, 4, 6],
    [3, 1, 7],
    [4, 2, 9],
  ])('line %i col %i → %i and back', (line, column, offset) => {
    expect(lineColToOffset(text, line, column)).toBe(offset);
    expect(offsetToLineCol(text, offset)).toEqual({ line, column });
  });

  it('clamps columns past the line end and lines past the end', () => {
    expect(lineColToOffset(text, 1, 99)).toBe(2);
    expect(lineColToOffset(text, 99, 1)).toBe(text.length);
    expect(offsetToLineCol(text, 999)).toEqual({ line: 4, column: 2 });
    expect(offsetToLineCol(text, -5)).toEqual({ line: 1, column: 1 });
  });

  it('does not count the \\r of CRLF as a column', () => {
    const crlf = 'ab\r\ncd';
    expect(lineColToOffset(crlf, 1, 10)).toBe(2);
    expect(lineColToOffset(crlf, 2, 2)).toBe(5);
  });

  it('splitAtPosition gives prefix and suffix', () => {
    expect(splitAtPosition('const x = 1;\nfoo()', 2, 4)).toEqual({ prefix: 'const x = 1;\nfoo', suffix: '()', offset: 16 });
  });
});
