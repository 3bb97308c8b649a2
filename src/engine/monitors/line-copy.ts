// The line-copy monitor: code repeats its own lines with small changes (`screenX: e.screenX,` then
// `screenY: e.screenY,`), and a small model copies worse than a plain lookup (bench/names.md: the
// copy rule's line exact match is above the model's). At the cursor, the longest tail of the line
// being written that occurred earlier in the context names a continuation: what followed that
// occurrence up to its line's end. While the completion follows it, the tokens that continue it get
// a bias that grows with the length of the match; once the completion leaves it, the copy is over.

/** Tails shorter than this (not counting the line's indentation) say too little to copy from. */
export const LINE_COPY_MIN_CHARS = 8;
/** Longer tails are not searched for (the bias is full from LINE_COPY_FULL_CHARS on). */
const LINE_COPY_MAX_CHARS = 80;
const LINE_COPY_FULL_CHARS = 32;

export interface LineCopy {
  /** the continuation: the rest of the earlier line after the matched tail */
  text: string;
  /** characters of the current line that matched */
  matched: number;
}

/** The continuation the context offers for the line `prefix` ends in (`files` before it, in
 *  context order), or undefined when no tail of LINE_COPY_MIN_CHARS occurred before. */
export function findLineCopy(files: readonly { text: string }[], prefix: string): LineCopy | undefined {
  const lineStart = prefix.lastIndexOf('\n') + 1;
  const cur = prefix.slice(lineStart);
  const indent = cur.length - cur.trimStart().length;
  const longest = Math.min(LINE_COPY_MAX_CHARS, cur.length - indent);
  if (longest < LINE_COPY_MIN_CHARS) return undefined;
  // the nearest occurrence wins: the current file before this line, then the files from the last
  const texts = [prefix.slice(0, lineStart), ...files.map((f) => f.text).reverse()];
  for (let len = longest; len >= LINE_COPY_MIN_CHARS; len--) {
    const tail = cur.slice(cur.length - len);
    for (const t of texts) {
      const at = t.lastIndexOf(tail);
      if (at < 0) continue;
      let end = t.indexOf('\n', at + len);
      if (end < 0) end = t.length;
      const text = t.slice(at + len, end).trimEnd();
      return text ? { text, matched: len } : undefined;
    }
  }
  return undefined;
}

/** The bias (nats) toward tokens that continue `copy` after `generated` (the completion so far),
 *  or undefined once the completion has left the copy or finished its line. At the end of the
 *  copy the bias goes to tokens that end the line there. */
export function lineCopyBias(copy: LineCopy, generated: string, tokenText: readonly string[], maxBias: number): Float32Array | undefined {
  if (generated.includes('\n') || !copy.text.startsWith(generated)) return undefined;
  const rest = copy.text.slice(generated.length);
  const beta = maxBias * Math.min(1, copy.matched / LINE_COPY_FULL_CHARS);
  if (beta <= 0) return undefined;
  const bias = new Float32Array(tokenText.length);
  let n = 0;
  for (let t = 0; t < tokenText.length; t++) {
    const piece = tokenText[t];
    if (!piece) continue;
    const follows = rest ? rest.startsWith(piece) || (piece.startsWith(rest) && /^\s*\n/.test(piece.slice(rest.length))) : /^[ \t]*\n/.test(piece);
    if (follows) {
      bias[t] = beta;
      n++;
    }
  }
  return n ? bias : undefined;
}
