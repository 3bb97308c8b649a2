// Drop what the document already has: models like to re-type the line below the cursor or the
// rest of the current line.
import { openedAndUnclosed } from './brackets';
import { isBlank, linePrefixOf, linesAfterCursorLine, restOfLine } from './text';

/**
 * Cut the completion at the first line that repeats the next non-blank line of the document
 * (compared without trailing whitespace, with indentation: a nested '}' is not the outer '}').
 */
export function dropLinesRepeatingDocument(completion: string, prefix: string, suffix: string): string {
  const next = linesAfterCursorLine(suffix).find((l) => !isBlank(l))?.trimEnd();
  if (next === undefined) return completion;
  const lines = completion.split('\n');
  // The first line counts only when it is a whole line of its own (cursor on an empty line).
  const firstIsWholeLine = isBlank(linePrefixOf(prefix)) && isBlank(restOfLine(suffix));
  for (let i = 0; i < lines.length; i++) {
    if (i === 0 && !firstIsWholeLine) continue;
    const line = (i === 0 ? linePrefixOf(prefix) + lines[0] : lines[i]).trimEnd();
    if (!isBlank(line) && line === next) return lines.slice(0, i).join('\n').replace(/\s+$/, '');
  }
  return completion;
}

/**
 * Trim an ending equal to the rest of the current line (`foo(a, b);` before `);`), unless that
 * would un-close a bracket the completion itself opened (`bar(` + `baz()` before `)`).
 */
export function trimRestOfLineOverlap(completion: string, prefix: string, suffix: string, languageId?: string): string {
  const rest = restOfLine(suffix).trim();
  if (!rest || !completion.trimEnd().endsWith(rest)) return completion;
  const trimmed = completion.trimEnd().slice(0, -rest.length);
  if (openedAndUnclosed(trimmed, prefix, languageId) > openedAndUnclosed(completion, prefix, languageId)) return completion;
  return trimmed;
}
