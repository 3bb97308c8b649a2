// Multi-line completions stop where the cursor's block ends: a line indented less than the cursor
// line, a closing line that closes a bracket opened before the cursor line, or (after the cursor
// line opened a block) the line that closes it. Models happily continue into the next function;
// users want the block they are in.
import { scanBrackets } from './scan';
import { CLOSERS, indentWidth, isBlank, linePrefixOf, startsWithCloser } from './text';

export interface BlockEndOptions {
  prefix: string;
  languageId?: string;
  tabSize?: number;
}

// Lines at the block's own indentation that continue a colon block rather than end it.
const CONTINUATION = /^(else|elif|except|finally|case|default)\b/;
const COLON_BLOCK_LANGUAGES = new Set(['python', 'yaml', 'coffeescript', 'nim']);

export function stopAtBlockEnd(completion: string, o: BlockEndOptions): { text: string; ended: boolean } {
  const lines = completion.split('\n');
  if (lines.length < 2) return { text: completion, ended: false };
  const tab = o.tabSize;
  const linePrefix = linePrefixOf(o.prefix);
  const cursorLine = linePrefix + lines[0];
  const base = isBlank(cursorLine)
    ? Math.max(indentWidth(cursorLine, tab), indentWidth(lines.find((l, i) => i > 0 && !isBlank(l)) ?? '', tab))
    : indentWidth(cursorLine, tab);

  // Bracket depth at the end of each line, counted from the start of the cursor line.
  const text = linePrefix + completion;
  const events = scanBrackets(text, o.languageId);
  const depthAfter: number[] = [];
  let depth = 0;
  let e = 0;
  let lineEnd = linePrefix.length - 1; // index of the '\n' (or end) of each line in `text`
  for (const line of lines) {
    lineEnd += line.length + 1;
    for (; e < events.length && events[e].index < lineEnd; e++) {
      // Closers of brackets opened above the cursor line are not counted (floor at 0).
      depth = CLOSERS.includes(events[e].ch) ? Math.max(0, depth - 1) : depth + 1;
    }
    depthAfter.push(depth);
  }
  const colonBlock = COLON_BLOCK_LANGUAGES.has(o.languageId ?? '') && /:\s*(#.*)?$/.test(cursorLine);

  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (isBlank(line)) continue;
    const ind = indentWidth(line, tab);
    const before = depthAfter[i - 1];
    const cut = (keepThisLine: boolean) => ({ text: lines.slice(0, keepThisLine ? i + 1 : i).join('\n'), ended: true });
    if (ind < base) return cut(false);
    if (ind > base) continue;
    if (startsWithCloser(line)) {
      if (before === 0) return cut(false); // closes a block opened above the cursor line
      if (depthAfter[i] === 0) return cut(true); // closes the block the cursor line opened
    } else if (before > 0 || (colonBlock && !CONTINUATION.test(line.trimStart()))) {
      return cut(false); // the cursor line's block should have been indented or closed by now
    }
  }
  return { text: completion, ended: false };
}
