import { describe, expect, it } from 'vitest';
import { capPrefix, capSuffix, defaultEstimateTokens, PREFIX_CUT_STEP } from '../../../src/context/budget';

const lines = (n: number, width = 10) => Array.from({ length: n }, (_, i) => `l${i}`.padEnd(width, '.')).join('\n');

describe('capSuffix', () => {
  it('keeps at most 30 lines', () => {
    const s = capSuffix(lines(100));
    expect(s.split('\n')).toHaveLength(30);
    expect(s.endsWith('\n')).toBe(false);
  });
  it('keeps at most ~2000 chars, cut at a line end', () => {
    const s = capSuffix(lines(29, 200));
    expect(s.length).toBeLessThanOrEqual(2000);
    expect(s.split('\n').every((l) => l.length === 200)).toBe(true);
  });
  it('cuts one huge line at 2000 chars', () => {
    expect(capSuffix('x'.repeat(5000))).toHaveLength(2000);
  });
  it('leaves a short suffix alone', () => {
    expect(capSuffix(')\n}\n')).toBe(')\n}\n');
  });
});

describe('capPrefix', () => {
  it('leaves a prefix within budget alone', () => {
    expect(capPrefix('abc', 10, defaultEstimateTokens)).toEqual({ text: 'abc', start: 0 });
  });
  it('keeps the end, cut at a multiple of the step, within the budget', () => {
    const p = lines(500) + '\nconst x = ';
    const r = capPrefix(p, 1000, defaultEstimateTokens);
    expect(defaultEstimateTokens(r.text)).toBeLessThanOrEqual(1000);
    expect(r.text.endsWith('const x = ')).toBe(true);
    expect(p.slice(r.start)).toBe(r.text);
    const droppedLines = p.slice(0, r.start).split('\n').length - 1;
    expect(droppedLines % PREFIX_CUT_STEP).toBe(0);
  });
  it('does not move the cut while the user types a few more lines', () => {
    const p = lines(500);
    const a = capPrefix(p, 1000, defaultEstimateTokens);
    const b = capPrefix(p + '\nfoo();\nbar();', 1000, defaultEstimateTokens);
    expect(b.start).toBe(a.start);
  });
  it('falls back to a character cut for one enormous line', () => {
    const r = capPrefix('y'.repeat(10000), 100, defaultEstimateTokens);
    expect(r.text).toHaveLength(300);
    expect(r.start).toBe(9700);
  });
});
