// From "which context text did the model attend to" to "which document ranges to highlight".
// Segments are the texts as placed in the context (related files whole, the current file from
// its capped prefix start); ranges are char offsets (UTF-16) into their concatenation or into one
// segment. Output ranges are in document offsets.
import type { ChosenSpan, ContextPayload } from '../shared/protocol';

export interface PlacedSegment {
  file: string;
  text: string; // the text as placed in the context
  docStart: number; // offset in the file's document where `text` begins
}

export interface DocRange {
  file: string;
  start: number; // document offsets, end exclusive
  end: number;
  score: number;
  heads?: number;
}

/** The payload's segments in placement order; prefixStart from the assembler (capped prefix). */
export function segmentsOf(payload: ContextPayload, prefixStart = 0): PlacedSegment[] {
  return [
    ...payload.files.map((f) => ({ file: f.file, text: f.text, docStart: 0 })),
    { file: payload.current.file, text: payload.current.prefix + payload.current.suffix, docStart: prefixStart },
  ];
}

/** A range over the concatenated segments → the pieces it covers, in document offsets. */
export function locateRange(segments: readonly PlacedSegment[], start: number, end: number, score = 1): DocRange[] {
  const out: DocRange[] = [];
  let base = 0;
  for (const s of segments) {
    const from = Math.max(start, base);
    const to = Math.min(end, base + s.text.length);
    if (from < to) out.push({ file: s.file, start: s.docStart + from - base, end: s.docStart + to - base, score });
    base += s.text.length;
    if (base >= end) break;
  }
  return out;
}

/** Engine spans (offsets into each file's placed text) → document ranges; unknown files dropped. */
export function spansToDocument(segments: readonly PlacedSegment[], spans: readonly ChosenSpan[]): DocRange[] {
  const byFile = new Map(segments.map((s) => [s.file, s]));
  const out: DocRange[] = [];
  for (const sp of spans) {
    const seg = byFile.get(sp.file);
    if (!seg) continue;
    const start = Math.max(0, Math.min(sp.start, seg.text.length));
    const end = Math.max(start, Math.min(sp.end, seg.text.length));
    if (end > start) out.push({ file: sp.file, start: seg.docStart + start, end: seg.docStart + end, score: sp.score, heads: sp.heads });
  }
  return out;
}

/**
 * Merge ranges of the same file that overlap or lie within `maxGap` chars of each other (token
 * by token selections become a few readable runs, and fewer decorations). Score and heads of a
 * merged run are the maxima: the same heads pick neighbouring tokens, so summing would overcount.
 */
export function mergeRanges(ranges: readonly DocRange[], maxGap = 0): DocRange[] {
  const sorted = [...ranges].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.start - b.start));
  const out: DocRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.file === r.file && r.start <= last.end + maxGap) {
      last.end = Math.max(last.end, r.end);
      last.score = Math.max(last.score, r.score);
      if (r.heads !== undefined || last.heads !== undefined) last.heads = Math.max(last.heads ?? 0, r.heads ?? 0);
    } else out.push({ ...r });
  }
  return out;
}
