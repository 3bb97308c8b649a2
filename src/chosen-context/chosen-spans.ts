// The engine reports chosen context as char offsets into each file's placed text; for the current
// file the offsets run over payload.current.prefix then .suffix. This turns them into spans of
// document offsets a person can read: the text left out between prefix and suffix (the selection,
// for Explain) shifts suffix offsets, spans grow to whole words on single lines, and one result
// draws at most MAX_SPANS spans, each with an importance level.
import { spansToDocument, type DocRange, type PlacedSegment } from './document-ranges';
import { bucketScores, type ScoreLevel } from './levels';
import { wholeWords } from './words';
import type { ChosenSpan, ContextPayload } from '../shared/protocol';

/** Where the current file's placed text sits in its document. */
export interface SpanOrigin {
  currentFile: string;
  /** Document offset where payload.current.prefix starts (> 0 when the prefix was capped). */
  prefixStart: number;
  prefixLength: number;
  /** Characters between the prefix end and the suffix start in the document (0 at a cursor). */
  gap: number;
}

export interface PlacedContext {
  payload: ContextPayload;
  origin: SpanOrigin;
  /** The current document's text when the context was assembled. */
  documentText: string;
}

export type DocSpan = DocRange & { level: ScoreLevel };

/** Most spans kept from one result (the engine sends at most 64; a split at the selection adds some). */
export const MAX_SPANS = 80;

/** Strongest first, at most `max`, in document offsets, grown to whole words. */
export function toDocumentSpans(chosen: readonly ChosenSpan[], placed: PlacedContext, max = MAX_SPANS): DocSpan[] {
  const { payload, origin, documentText } = placed;
  const segments: PlacedSegment[] = [
    ...payload.files.map((f) => ({ file: f.file, text: f.text, docStart: 0 })),
    { file: origin.currentFile, text: documentText.slice(origin.prefixStart), docStart: origin.prefixStart },
  ];
  const shifted = origin.gap > 0 ? chosen.flatMap((s) => (s.file === origin.currentFile ? skipGap(s, origin) : [s])) : chosen;
  const ranges = spansToDocument(segments, shifted);
  const words = contextParts(placed).flatMap((part) =>
    wholeWords(
      part.text,
      ranges.filter((r) => r.file === part.file && r.start >= part.start && r.end <= part.end),
      part,
    ),
  );
  return bucketScores(words.sort((a, b) => b.score - a.score).slice(0, max));
}

/** A stretch of a document that was placed in the context whole; words grow only inside one. */
interface ContextPart {
  file: string;
  text: string; // the document's text (for a related file: as placed)
  start: number;
  end: number;
}

/** Related files whole; the current file from its prefix start to its suffix end, cut at the gap. */
function contextParts({ payload, origin, documentText }: PlacedContext): ContextPart[] {
  const related = payload.files.map((f) => ({ file: f.file, text: f.text, start: 0, end: f.text.length }));
  const prefixEnd = origin.prefixStart + origin.prefixLength;
  const suffixStart = prefixEnd + origin.gap;
  const suffixEnd = Math.min(documentText.length, suffixStart + payload.current.suffix.length);
  const current = { file: origin.currentFile, text: documentText };
  const parts =
    origin.gap > 0
      ? [
          { ...current, start: origin.prefixStart, end: prefixEnd },
          { ...current, start: suffixStart, end: suffixEnd },
        ]
      : [{ ...current, start: origin.prefixStart, end: suffixEnd }];
  return [...related, ...parts];
}

/** Offsets at or past the prefix end belong to the suffix, which starts `gap` chars later. */
function skipGap(s: ChosenSpan, o: SpanOrigin): ChosenSpan[] {
  const cut = o.prefixLength;
  if (s.end <= cut) return [s];
  if (s.start >= cut) return [{ ...s, start: s.start + o.gap, end: s.end + o.gap }];
  return [
    { ...s, end: cut },
    { ...s, start: cut + o.gap, end: s.end + o.gap },
  ];
}

/** Groups spans by file, each group in document order. */
export function groupByFile(spans: readonly DocSpan[]): Map<string, DocSpan[]> {
  const byFile = new Map<string, DocSpan[]>();
  for (const s of spans) {
    const list = byFile.get(s.file);
    if (list) list.push(s);
    else byFile.set(s.file, [s]);
  }
  for (const list of byFile.values()) list.sort((a, b) => a.start - b.start);
  return byFile;
}
