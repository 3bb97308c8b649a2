import { describe, expect, it } from 'vitest';
import { locateRange, mergeRanges, segmentsOf, spansToDocument } from '../../../src/chosen-context/document-ranges';
import type { ContextPayload } from '../../../src/shared/protocol';

const payload: ContextPayload = {
  files: [
    { file: 'a.ts', text: 'AAAA' },
    { file: 'b.ts', text: 'BBBBBB' },
  ],
  current: { file: 'cur.ts', prefix: 'pre', suffix: 'SUF' },
};

describe('segments and ranges', () => {
  it('segmentsOf places the current file at its capped prefix start', () => {
    const segs = segmentsOf(payload, 100);
    expect(segs.map((s) => [s.file, s.docStart, s.text])).toEqual([
      ['a.ts', 0, 'AAAA'],
      ['b.ts', 0, 'BBBBBB'],
      ['cur.ts', 100, 'preSUF'],
    ]);
  });

  it('locateRange splits a range over the concatenation into per-file document ranges', () => {
    const segs = segmentsOf(payload, 100);
    expect(locateRange(segs, 2, 12, 0.5)).toEqual([
      { file: 'a.ts', start: 2, end: 4, score: 0.5 },
      { file: 'b.ts', start: 0, end: 6, score: 0.5 },
      { file: 'cur.ts', start: 100, end: 102, score: 0.5 },
    ]);
    expect(locateRange(segs, 4, 4)).toEqual([]);
  });

  it('spansToDocument shifts current-file spans and clamps to the placed text', () => {
    const segs = segmentsOf(payload, 100);
    expect(
      spansToDocument(segs, [
        { file: 'cur.ts', start: 1, end: 99, score: 0.9, heads: 3 },
        { file: 'a.ts', start: 0, end: 1, score: 0.1, heads: 1 },
        { file: 'gone.ts', start: 0, end: 1, score: 1, heads: 1 },
      ]),
    ).toEqual([
      { file: 'cur.ts', start: 101, end: 106, score: 0.9, heads: 3 },
      { file: 'a.ts', start: 0, end: 1, score: 0.1, heads: 1 },
    ]);
  });
});

describe('mergeRanges', () => {
  it('merges touching and overlapping ranges of the same file, keeping the max score', () => {
    expect(
      mergeRanges([
        { file: 'a', start: 5, end: 8, score: 0.2 },
        { file: 'a', start: 0, end: 5, score: 0.7 },
        { file: 'a', start: 7, end: 9, score: 0.1 },
        { file: 'b', start: 9, end: 10, score: 0.3 },
        { file: 'a', start: 12, end: 13, score: 0.4 },
      ]),
    ).toEqual([
      { file: 'a', start: 0, end: 9, score: 0.7 },
      { file: 'a', start: 12, end: 13, score: 0.4 },
      { file: 'b', start: 9, end: 10, score: 0.3 },
    ]);
  });
  it('bridges small gaps when asked (e.g. the space between two tokens)', () => {
    expect(mergeRanges([{ file: 'a', start: 0, end: 3, score: 1, heads: 2 }, { file: 'a', start: 4, end: 6, score: 0.5, heads: 5 }], 1)).toEqual([
      { file: 'a', start: 0, end: 6, score: 1, heads: 5 },
    ]);
  });
});
