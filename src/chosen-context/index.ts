// Chosen context: from what the engine's selection read (token spans in the placed context) to
// what the editor highlights (whole-word spans in document offsets, in three importance levels).
// No vscode import: the decorations that draw these live in src/extension/highlights.ts.
export { toDocumentSpans, groupByFile, MAX_SPANS, type DocSpan, type PlacedContext, type SpanOrigin } from './chosen-spans';
export { segmentsOf, locateRange, spansToDocument, mergeRanges, type PlacedSegment, type DocRange } from './document-ranges';
export { scoreLevel, bucketScores, LEVEL_NAMES, LEVEL_LEGEND, MEDIUM_FROM, HIGH_FROM, type ScoreLevel } from './levels';
export { wholeWords, type TextSpan } from './words';
