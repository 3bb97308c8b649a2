// Whitespace-level filters.

/** Single-line mode: the rest of the current line only. */
export function cutAtFirstNewline(completion: string): string {
  const nl = completion.indexOf('\n');
  return (nl < 0 ? completion : completion.slice(0, nl)).replace(/\r$/, '');
}

/** Remove trailing lines that hold only whitespace ('a\n  \n\n' → 'a'). */
export function stripTrailingBlankLines(completion: string): string {
  return completion.replace(/(\r?\n[ \t]*)+$/, '');
}

/** Whitespace-only suggestions are noise (and invisible as ghost text). */
export function dropIfBlank(completion: string): string {
  return completion.trim() === '' ? '' : completion;
}
