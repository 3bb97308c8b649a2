// 1-based line/column <-> UTF-16 offset conversion. The CLI speaks lines and columns (as editors
// show them); the assembler and the engine speak offsets. Lines end at '\n'; a '\r' before it is
// part of the line break, not a column, so "\r\n" files behave as VS Code shows them.

export interface LineCol {
  line: number; // 1-based
  column: number; // 1-based, in UTF-16 code units (VS Code's convention)
}

/** Offset of (line, column); out-of-range positions are clamped to the document, never thrown. */
export function lineColToOffset(text: string, line: number, column: number): number {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return text.length; // past the last line
    start = nl + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  if (end > start && text[end - 1] === '\r') end--;
  return Math.min(start + Math.max(0, column - 1), end);
}

/** Inverse of lineColToOffset; offsets are clamped to [0, text.length]. */
export function offsetToLineCol(text: string, offset: number): LineCol {
  const o = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < o; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return { line, column: o - lineStart + 1 };
}

/** Split a document at a 1-based position into the prefix/suffix pair the assembler takes. */
export function splitAtPosition(text: string, line: number, column: number): { prefix: string; suffix: string; offset: number } {
  const offset = lineColToOffset(text, line, column);
  return { prefix: text.slice(0, offset), suffix: text.slice(offset), offset };
}
