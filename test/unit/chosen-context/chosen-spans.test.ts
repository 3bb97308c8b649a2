import { describe, expect, it } from 'vitest';
import { groupByFile, MAX_SPANS, toDocumentSpans, type PlacedContext } from '../../../src/chosen-context/chosen-spans';
import type { ChosenSpan } from '../../../src/shared/protocol';

const span = (file: string, start: number, end: number, score = 1, heads = 4): ChosenSpan => ({ file, start, end, score, heads });
const GEOMETRY = 'export const ORIGIN = { x: 0, y: 0 };\n'.repeat(10);

/** A document of `doc` whose prefix starts at prefixStart; [cursor, cursor + gap) is left out. */
function placed(doc: string, prefixStart: number, cursor: number, gap = 0, related = GEOMETRY): PlacedContext {
  const prefix = doc.slice(prefixStart, cursor);
  return {
    payload: { files: [{ file: 'src/geometry.ts', text: related }], current: { file: 'src/main.ts', prefix, suffix: doc.slice(cursor + gap) } },
    origin: { currentFile: 'src/main.ts', prefixStart, prefixLength: prefix.length, gap },
    documentText: doc,
  };
}
// 300 chars of one-letter words between dots: no span boundary below falls inside a word, so
// these offsets test the mapping alone (word growth has its own tests further down).
const DOC = 'a.b.c.d.e.f.g.h.i.j.'.repeat(15);

describe('toDocumentSpans', () => {
  it('keeps related-file offsets as they are', () => {
    const [s] = toDocumentSpans([span('src/geometry.ts', 13, 19, 0.5, 7)], placed(DOC, 50, 100));
    expect(s).toMatchObject({ file: 'src/geometry.ts', start: 13, end: 19, heads: 7, level: 2 });
    expect(GEOMETRY.slice(13, 19)).toBe('ORIGIN');
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
    const out = toDocumentSpans(chosen, placed(DOC, 0, 10, 0, 'ab;'.repeat(MAX_SPANS + 20)));
    expect(out).toHaveLength(MAX_SPANS);
    expect(out.every((s) => s.file === 'src/geometry.ts' && s.end > s.start)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i - 1].score).toBeGreaterThanOrEqual(out[i].score);
    expect(out[0].level).toBe(2);
  });
});

describe('toDocumentSpans: whole words', () => {
  const CODE = 'import { makeClient } from "./client";\nconst apiHostname = "localhost";\nexport const provider = makeClient(apiHostname);\n';
  const at = (text: string, part: string, n = 0) => {
    let i = -1;
    for (let k = 0; k <= n; k++) i = text.indexOf(part, i + 1);
    return i;
  };

  it('grows token fragments to their identifiers, in related files and the current file', () => {
    const g = at(GEOMETRY, 'RIG');
    const c = at(CODE, 'Hostname');
    const spans = toDocumentSpans([span('src/geometry.ts', g, g + 3, 1), span('src/main.ts', c, c + 8, 0.5)], placed(CODE, 0, CODE.length));
    expect(spans.map((s) => (s.file === 'src/main.ts' ? CODE : GEOMETRY).slice(s.start, s.end))).toEqual(['ORIGIN', 'apiHostname']);
  });

  it('merges the tokens of one word into one span with the higher score, then sets levels', () => {
    const p = at(CODE, 'provider');
    const low = at(CODE, 'localhost');
    const spans = toDocumentSpans(
      [span('src/main.ts', p, p + 3, 0.3, 2), span('src/main.ts', p + 3, p + 8, 0.9, 6), span('src/main.ts', low, low + 5, 0.1, 1)],
      placed(CODE, 0, CODE.length),
    );
    expect(spans).toEqual([
      { file: 'src/main.ts', start: p, end: p + 8, score: 0.9, heads: 6, level: 2 },
      { file: 'src/main.ts', start: low, end: low + 9, score: 0.1, heads: 1, level: 0 },
    ]);
  });

  it('at a cursor a word is grown across it; an Explain selection is never highlighted', () => {
    const doc = 'let totalSum = 1;\n';
    // cursor inside `totalSum`: the prefix ends at `total`, the suffix starts with `Sum`
    const [atCursor] = toDocumentSpans([span('src/main.ts', 4, 7)], placed(doc, 0, 9));
    expect(doc.slice(atCursor.start, atCursor.end)).toBe('totalSum');
    // `Sum` selected (left out): a prefix span stops at the selection, a suffix span starts after it
    const explained = toDocumentSpans([span('src/main.ts', 4, 7, 1), span('src/main.ts', 9, 11, 0.5)], placed(doc, 0, 9, 3));
    expect(explained.map((s) => doc.slice(s.start, s.end))).toEqual(['total', '=']);
    // `total` selected: `Su` right after it grows to `Sum`, not back into the selection
    const [after] = toDocumentSpans([span('src/main.ts', 4, 6)], placed(doc, 0, 4, 5));
    expect(doc.slice(after.start, after.end)).toBe('Sum');
  });

  it('splits spans at line breaks and drops blank pieces (a highlighted indent reads as nothing)', () => {
    const from = at(CODE, 'lhost');
    const to = at(CODE, 'export') + 3;
    const blank = at(CODE, ' = ');
    const spans = toDocumentSpans([span('src/main.ts', from, to, 0.8), span('src/main.ts', blank, blank + 1, 1)], placed(CODE, 0, CODE.length));
    expect(spans.map((s) => CODE.slice(s.start, s.end))).toEqual(['localhost";', 'export']);
    expect(spans.map((s) => s.level)).toEqual([2, 2]);
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
