// Post-processing: turn raw model output into the ghost text we show. Each step is a small pure
// function; `postprocess` runs them in order. No vscode import (the CLI uses this too).
import { balanceBrackets, keepClosingBracketOnItsOwnLine } from './brackets';
import { stopAtBlockEnd } from './block-end';
import { dropLinesRepeatingDocument, trimRestOfLineOverlap } from './duplicates';
import { detectIndentation, normalizeIndentation, type IndentStyle } from './indentation';
import { isBlank, linePrefixOf, restOfLine } from './text';
import { cutAtFirstNewline, dropIfBlank, stripTrailingBlankLines } from './whitespace';

export interface PostprocessOptions {
  prefix: string; // document text before the cursor
  suffix: string; // document text after the cursor
  languageId?: string;
  multiline: boolean;
  /** The editor's indentation settings; detected from the document when absent. */
  indentation?: IndentStyle;
}

export function postprocess(completion: string, o: PostprocessOptions): string {
  let c = dropIfBlank(completion.replace(/\r\n/g, '\n'));
  if (!c) return '';
  const style = o.indentation ?? detectIndentation(sample(o.prefix, o.suffix));
  c = normalizeIndentation(c, style, linePrefixOf(o.prefix) === '');

  let ended = false;
  if (o.multiline) {
    const r = stopAtBlockEnd(c, { prefix: o.prefix, languageId: o.languageId, tabSize: style.size });
    c = r.text;
    ended = r.ended;
  } else {
    c = cutAtFirstNewline(c);
  }
  c = dropLinesRepeatingDocument(c, o.prefix, o.suffix);
  c = balanceBrackets(c, { prefix: o.prefix, suffix: o.suffix, languageId: o.languageId, blockEnded: ended });
  c = trimRestOfLineOverlap(c, o.prefix, o.suffix, o.languageId);
  // Trailing whitespace is invisible in ghost text: drop it at the end of a line, but keep a space
  // before the rest of the line, and a line break before an auto-closed bracket.
  if (isBlank(restOfLine(o.suffix))) c = c.replace(/\s+$/, '');
  else c = keepClosingBracketOnItsOwnLine(stripTrailingBlankLines(c), o.prefix, o.suffix);
  return dropIfBlank(c);
}

/** Enough of the document around the cursor to guess its indentation. */
function sample(prefix: string, suffix: string): string {
  return prefix.slice(-4000) + suffix.slice(0, 2000);
}

export { balanceBrackets, keepClosingBracketOnItsOwnLine, openedAndUnclosed, providedClosers } from './brackets';
export { stopAtBlockEnd } from './block-end';
export { dropLinesRepeatingDocument, trimRestOfLineOverlap } from './duplicates';
export { detectIndentation, normalizeIndentation, type IndentStyle } from './indentation';
export { cutAtFirstNewline, dropIfBlank, stripTrailingBlankLines } from './whitespace';
export { scanBrackets } from './scan';
