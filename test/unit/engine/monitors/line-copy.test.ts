import { describe, expect, it } from 'vitest';
import { LINE_COPY_MIN_CHARS, findLineCopy, lineCopyBias } from '../../../../src/engine/monitors/line-copy';

describe('line copy: the continuation of an earlier line that matched the current one', () => {
  it('takes the longest matching tail, the nearest occurrence first', () => {
    const prefix = 'a = opts.timeoutMs ?? 100;\nb = opts.retries ?? 3;\nc = opts.timeoutMs';
    expect(findLineCopy([], prefix)).toEqual({ text: ' ?? 100;', matched: 'c = opts.timeoutMs'.length - 1 });
    // the current file before the line wins over an equal match in another file
    const near = findLineCopy([{ text: 'x = opts.timeoutMs || 0;\n' }], prefix);
    expect(near?.text).toBe(' ?? 100;');
  });

  it('looks in the context files when the current file has no match', () => {
    const r = findLineCopy([{ text: 'export const limit = parseInt(env.LIMIT, 10);\n' }], 'function f() {\n  const limit = parseInt(');
    expect(r?.text).toBe('env.LIMIT, 10);');
  });

  it('offers nothing for a short tail, an unmatched line or a match at a line end', () => {
    expect(findLineCopy([], 'abc;\n' + 'x'.repeat(LINE_COPY_MIN_CHARS - 1))).toBeUndefined();
    expect(findLineCopy([], 'one line here;\nsomething else entirely')).toBeUndefined();
    expect(findLineCopy([], 'return value;\n  return value;')).toBeUndefined();
  });

  it('biases the tokens that continue the copy, more for a longer match, and stops when the completion leaves it', () => {
    const tokens = ['', ' ??', ' ?? 1', '00', ';', ' ||', '\n', '\n  '];
    const short = lineCopyBias({ text: ' ?? 100;', matched: 8 }, '', tokens, 4)!;
    const long = lineCopyBias({ text: ' ?? 100;', matched: 64 }, '', tokens, 4)!;
    expect([...long]).toEqual([0, 4, 4, 0, 0, 0, 0, 0]);
    expect(short[1]).toBeCloseTo(1);
    expect(lineCopyBias({ text: ' ?? 100;', matched: 64 }, ' ||', tokens, 4)).toBeUndefined();
    // at the copy's end, tokens that end the line
    const end = lineCopyBias({ text: ' ?? 100;', matched: 64 }, ' ?? 100;', tokens, 4)!;
    expect([...end]).toEqual([0, 0, 0, 0, 0, 0, 4, 4]);
    expect(lineCopyBias({ text: 'x', matched: 64 }, 'x\ny', tokens, 4)).toBeUndefined();
  });
});
