// Make the completion's indentation use the document's characters (tabs vs spaces), so accepting
// a suggestion never mixes styles. Only leading whitespace of lines after the first changes; the
// first line continues the cursor line and keeps what the model wrote.
import { DEFAULT_TAB_SIZE, isBlank, leadingWhitespace } from './text';

export interface IndentStyle {
  useTabs: boolean;
  size: number; // spaces per level (when converting tabs to spaces) or tab width
}

/** Guess the document's style from its lines; the editor's options, when known, should win. */
export function detectIndentation(documentText: string, fallback: IndentStyle = { useTabs: false, size: DEFAULT_TAB_SIZE }): IndentStyle {
  let tabs = 0;
  let spaces = 0;
  const deltas = new Map<number, number>();
  let prev = 0;
  for (const line of documentText.split('\n')) {
    if (isBlank(line)) continue;
    const ws = leadingWhitespace(line);
    if (ws.startsWith('\t')) tabs++;
    else if (ws.length >= 2) spaces++; // a single space is usually a JSDoc ' *' continuation
    if (!ws.includes('\t')) {
      const d = Math.abs(ws.length - prev);
      if (d >= 2 && d <= 8) deltas.set(d, (deltas.get(d) ?? 0) + 1);
      prev = ws.length;
    }
  }
  if (tabs === 0 && spaces === 0) return fallback;
  if (tabs > spaces) return { useTabs: true, size: fallback.size };
  let size = fallback.size;
  let best = 0;
  for (const [d, count] of deltas) if (count > best || (count === best && d < size)) [size, best] = [d, count];
  return { useTabs: false, size };
}

/** `firstLineIsWholeLine`: the cursor is at column 0, so line 0's indentation is absolute too. */
export function normalizeIndentation(completion: string, style: IndentStyle, firstLineIsWholeLine = false): string {
  const lines = completion.split('\n');
  const from = firstLineIsWholeLine ? 0 : 1;
  if (lines.length <= from) return completion;
  const spaceUnit = style.useTabs ? completionSpaceUnit(lines.slice(from), style.size) : 0;
  for (let i = from; i < lines.length; i++) {
    const ws = leadingWhitespace(lines[i]);
    if (!ws) continue;
    let fixed = ws;
    if (!style.useTabs && ws.includes('\t')) fixed = ws.replace(/\t/g, ' '.repeat(style.size));
    else if (style.useTabs && ws.includes(' ')) {
      const width = [...ws].reduce((w, c) => (c === '\t' ? w + spaceUnit : w + 1), 0);
      fixed = '\t'.repeat(Math.floor(width / spaceUnit)) + ' '.repeat(width % spaceUnit);
    }
    lines[i] = fixed + lines[i].slice(ws.length);
  }
  return lines.join('\n');
}

/**
 * How many spaces the model used per level: the gcd of its space indents and the tab size
 * (8 spaces alone is two levels of 4, not one of 8; 2 and 6 mean 2-space levels).
 */
function completionSpaceUnit(lines: string[], tabSize: number): number {
  let g = tabSize;
  for (const l of lines) {
    const n = /^ */.exec(l.replace(/^\t+/, ''))![0].length;
    if (n > 0 && !isBlank(l)) g = gcd(g, n);
  }
  return g >= 2 ? g : tabSize;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
