import { describe, expect, it } from 'vitest';
import { groupByFile, MAX_SPANS, toDocumentSpans, type PlacedContext } from '../../../src/extension/chosen-spans';
import type { ChosenSpan } from '../../../src/shared/protocol';

const span = (file: string, start: number, end: number, score = 1, heads = 4): ChosenSpan => ({ file, start, end, score, heads });
const GEOMETRY = 'export const ORIGIN = { x: 0, y: 0 };\n'.repeat(10);

/** A document of `doc` whose prefix starts at prefixStart; [cursor, cursor + gap) is left out. */
function placed(doc: string, prefixStart: number, cursor: number, gap = 0): PlacedContext {
  const prefix = doc.slice(prefixStart, cursor);
  return {
    payload: { files: [{ file: 'src/geometry.ts', text: GEOMETRY }], current: { file: 'src/main.ts', prefix, suffix: doc.slice(cursor + gap) } },
    origin: { currentFile: 'src/main.ts', prefixStart, prefixLength: prefix.length, gap },
    documentText: doc,
  };
}
const DOC = 'abcdefghij'.repeat(30); // 300 chars

describe('toDocumentSpans', () => {
  it('keeps related-file offsets as they are', () => {
    const [s] = toDocumentSpans([span('src/geometry.ts', 10, 20, 0.5, 7)], placed(DOC, 50, 100));
    expect(s).toMatchObject({ file: 'src/geometry.ts', start: 10, end: 20, heads: 7, level: 2 });
  });

  it('shifts current-file offsets by prefixStart (a capped prefix)', () => {
    const [s] = toDocumentSpans([span('src/main.ts', 10, 20)], placed(DOC, 50, 100));
    expect([s.start, s.end]).toEqual([60, 70]);
  });

  it('skips the left-out selection for offsets in the suffix (Explain)', () => {
    // prefix = [0, 40), selection = [40, 55), suffix from 55
    const spans = toDocumentSpans([span('src/main.ts', 42, 48, 0.9), span('src/main.ts', 5, 9, 0.8)], placed(DOC, 0, 40, 15));
    expect(spans.map((s) => [s.start, s.end])).toEqual([
      [57, 63],
      [5, 9],
    ]);
  });

  it('splits a span that runs from the prefix into the suffix', () => {
    const spans = toDocumentSpans([span('src/main.ts', 30, 50)], placed(DOC, 100, 140, 15));
    expect(spans.map((s) => [s.start, s.end]).sort((a, b) => a[0] - b[0])).toEqual([
      [130, 140],
      [155, 165],
    ]);
  });

  it('a span ending exactly at the cursor stays in the prefix; one starting there is in the suffix', () => {
    const spans = toDocumentSpans([span('src/main.ts', 30, 40, 0.9), span('src/main.ts', 40, 44, 0.8)], placed(DOC, 0, 40, 5));
    expect(spans.map((s) => [s.start, s.end])).toEqual([
      [30, 40],
      [45, 49],
    ]);
  });

  it('drops empty spans and spans of files not in the context, sorts strongest first, caps the count', () => {
    const chosen = [
      span('src/geometry.ts', 5, 5),
      span('src/other.ts', 0, 3),
      ...Array.from({ length: MAX_SPANS + 20 }, (_, i) => span('src/geometry.ts', i * 3, i * 3 + 2, (i + 1) / (MAX_SPANS + 20))),
    ];
    const out = toDocumentSpans(chosen, placed(DOC, 0, 10));
    expect(out).toHaveLength(MAX_SPANS);
    expect(out.every((s) => s.file === 'src/geometry.ts' && s.end > s.start)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i - 1].score).toBeGreaterThanOrEqual(out[i].score);
    expect(out[0].level).toBe(2);
  });
});

describe('groupByFile', () => {
  it('groups by file in document order', () => {
    const spans = toDocumentSpans([span('src/main.ts', 50, 60, 1), span('src/geometry.ts', 1, 2, 0.9), span('src/main.ts', 10, 20, 0.5)], placed(DOC, 0, 100));
    const g = groupByFile(spans);
    expect([...g.keys()]).toEqual(['src/main.ts', 'src/geometry.ts']);
    expect(g.get('src/main.ts')!.map((s) => s.start)).toEqual([10, 50]);
  });
});
