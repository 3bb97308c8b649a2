// The engine reports chosen context as char offsets into each file's placed text; for the current
// file the offsets run over payload.current.prefix then .suffix. The mapping to document ranges
// and the importance levels come from completion-logic; what this adds is the text left out
// between prefix and suffix (the selection, for Explain), which shifts suffix offsets, and a cap
// on how many spans one result may draw. No vscode import: unit-tested directly.
import { bucketScores, spansToDocument, type DocRange, type PlacedSegment, type ScoreLevel } from '../completion-logic';
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

/** Strongest first, at most `max`, in document offsets. */
export function toDocumentSpans(chosen: readonly ChosenSpan[], placed: PlacedContext, max = MAX_SPANS): DocSpan[] {
  const { payload, origin, documentText } = placed;
  const segments: PlacedSegment[] = [
    ...payload.files.map((f) => ({ file: f.file, text: f.text, docStart: 0 })),
    { file: origin.currentFile, text: documentText.slice(origin.prefixStart), docStart: origin.prefixStart },
  ];
  const shifted = origin.gap > 0 ? chosen.flatMap((s) => (s.file === origin.currentFile ? skipGap(s, origin) : [s])) : chosen;
  const ranges = spansToDocument(segments, shifted).sort((a, b) => b.score - a.score);
  return bucketScores(ranges.slice(0, max));
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
