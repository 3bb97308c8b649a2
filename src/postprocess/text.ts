// Line and indentation helpers shared by the post-processing steps.

export const DEFAULT_TAB_SIZE = 4;

/** The text of the cursor line before the cursor. */
export function linePrefixOf(prefix: string): string {
  return prefix.slice(prefix.lastIndexOf('\n') + 1);
}

/** The text of the cursor line after the cursor (without the line break). */
export function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return (nl < 0 ? suffix : suffix.slice(0, nl)).replace(/\r$/, '');
}

/** Lines of the document after the cursor line. */
export function linesAfterCursorLine(suffix: string): string[] {
  const nl = suffix.indexOf('\n');
  return nl < 0 ? [] : suffix.slice(nl + 1).split('\n').map((l) => l.replace(/\r$/, ''));
}

export function isBlank(s: string): boolean {
  return s.trim() === '';
}

export function leadingWhitespace(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/** Visual width of a line's indentation, tabs advancing to the next tab stop. */
export function indentWidth(line: string, tabSize = DEFAULT_TAB_SIZE): number {
  let w = 0;
  for (const c of leadingWhitespace(line)) w = c === '\t' ? w + tabSize - (w % tabSize) : w + 1;
  return w;
}

export const OPENERS = '([{';
export const CLOSERS = ')]}';
export const PAIR: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

export function startsWithCloser(line: string): boolean {
  return CLOSERS.includes(line.trimStart()[0] ?? '');
}
