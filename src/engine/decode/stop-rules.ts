// When a completion ends, and which tokens it may not repeat.
import type { CompleteResult } from '../../shared/protocol';

export function lastLine(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

export function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

export const MAX_LINES = 16;

/** Whether `line` (trimmed) copies `earlier` (trimmed): the same line, or the earlier line's tail
 *  after a `.` (`_latlngs = this._latlngs;` below `this._latlngs = this._latlngs;`: a member name
 *  after a dot never starts a statement). Lines of 3 characters or less (`},`) may repeat. */
export function copiesLine(line: string, earlier: string): boolean {
  if (line.length <= 3) return false;
  if (line === earlier) return true;
  return line.length >= 8 && earlier.endsWith(line) && earlier[earlier.length - line.length - 1] === '.';
}

/** The index of the first of `lines` that copies an earlier one (copiesLine), or -1. The first
 *  line is read as the whole cursor line: `head` (the line before the cursor) + lines[0]. */
function firstCopiedLine(lines: string[], head: string): number {
  const seen: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const t = (i === 0 ? head + lines[i] : lines[i]).trim();
    if (seen.some((e) => copiesLine(t, e))) return i;
    seen.push(t);
  }
  return -1;
}

/** Stop rules on the decoded text: single-line mode ends at the first newline after content;
 *  multi-line ends after MAX_LINES, when a finished line dedents below the cursor's block, or when
 *  a finished line copies an earlier finished line of the completion (greedy loops). `head` is the
 *  cursor's line before the cursor: the completion's first line is compared as that whole line
 *  (`this.` + `a = this.a;` repeated by the next line `this.a = this.a;`). */
export function lineStop(text: string, multiline: boolean, baseIndent: number, head = ''): CompleteResult['stopReason'] | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  if (!multiline) return text.slice(0, nl).trim() ? 'max-lines' : undefined;
  const lines = text.split('\n');
  if (lines.length > MAX_LINES) return 'max-lines';
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i];
    if (l.trim() && indentOf(l) < baseIndent) return 'block-end';
  }
  return firstCopiedLine(lines.slice(0, -1), head) >= 0 ? 'repetition' : undefined;
}

/** The text a stop rule keeps: a 'repetition' stop drops the copied line (`head` as in lineStop). */
export function trimAtStop(text: string, reason: CompleteResult['stopReason'], head = ''): string {
  if (reason !== 'repetition') return text;
  const lines = text.split('\n');
  const i = firstCopiedLine(lines, head);
  return i < 0 ? text : lines.slice(0, i).join('\n').replace(/\s+$/, '');
}

export const NGRAM = 3;
export const MAX_NGRAM_REPEATS = 2;

/** Tokens that would make an n-gram (n = NGRAM) occur more than MAX_NGRAM_REPEATS times on the
 *  current line of the completion (out[from..]): greedy decoding of a small model loops within a
 *  line (`r: number, r: number, r: number, r`). Across lines, statements legitimately share
 *  n-grams (`this.a = a;` / `this.b = b;`); a repeated whole line is a stop rule instead. */
export function repetitionBans(out: number[], from = 0): Set<number> | undefined {
  const n = NGRAM;
  if (out.length - from < n * MAX_NGRAM_REPEATS) return undefined;
  const a = out[out.length - 2];
  const b = out[out.length - 1];
  const counts = new Map<number, number>();
  for (let i = from; i + 2 < out.length; i++) {
    if (out[i] === a && out[i + 1] === b) counts.set(out[i + 2], (counts.get(out[i + 2]) ?? 0) + 1);
  }
  let bans: Set<number> | undefined;
  for (const [t, c] of counts) if (c >= MAX_NGRAM_REPEATS) (bans ??= new Set()).add(t);
  return bans;
}

/** Greedy decoding of a small model can loop; stop when the last 4..12 tokens repeat 3 times. */
export function repeats(out: number[]): boolean {
  for (let n = 4; n <= 12; n++) {
    if (out.length < 3 * n) return false;
    let same = true;
    for (let i = 1; i <= n && same; i++) {
      const a = out[out.length - i];
      same = a === out[out.length - i - n] && a === out[out.length - i - 2 * n];
    }
    if (same) return true;
  }
  return false;
}

/** Retries of a suggestion with a useless line (uselessAt; engine.ts); 0 turns the rule off (tests). */
export const USELESS_LINE = { retries: 2 };

/** The last non-blank line of `s` that ends before `end` (a line start), trimmed, and its start;
 *  undefined when there is none. */
function lineAbove(s: string, end: number): { text: string; start: number } | undefined {
  for (let e = end - 1; e >= 0; ) {
    const start = e > 0 ? s.lastIndexOf('\n', e - 1) + 1 : 0;
    const text = s.slice(start, e).trim();
    if (text) return { text, start };
    e = start - 1;
  }
  return undefined;
}

/** The line where `text`'s first visible character lands once it is inserted at the end of
 *  `prefix`, completed with it, and the non-blank line above it. Only the prefix's last lines are
 *  read (from the line above the cursor's), never the whole file. `tail` is that part of the
 *  prefix, and `start`/`end` index the line in `tail + text`. */
function visibleLine(prefix: string, text: string) {
  const visible = text.search(/\S/);
  if (visible < 0) return undefined;
  const cursorLine = prefix.lastIndexOf('\n') + 1;
  const tail = prefix.slice(lineAbove(prefix, cursorLine)?.start ?? cursorLine);
  const all = tail + text;
  const at = tail.length + visible;
  const start = all.lastIndexOf('\n', at - 1) + 1;
  const nl = all.indexOf('\n', at);
  const end = nl < 0 ? all.length : nl;
  return { visible, tail, all, start, end, above: lineAbove(all, start)?.text };
}

/** Whether `text`, suggested at the end of `prefix`, makes a line that copies (copiesLine, at least
 *  8 characters with a letter) the non-blank line above it: the line of its first visible text,
 *  completed with it (the cursor's line with what was typed on it, or a line the text starts after
 *  a line break). Greedy decoding of a small model, after a line was typed and Enter pressed,
 *  often suggests that same line again (`this._latlngs = this._latlngs;`) or its tail
 *  (`_latlngs = this._latlngs;`); after `this.` below `this.size = size;` it suggests `size = size;`.
 *  Held-out real code repeats the line above in 53 of 246k such lines. Short lines (`},`,
 *  `break;`) may repeat and are not counted. */
export function repeatsLineAbove(prefix: string, text: string): boolean {
  const v = visibleLine(prefix, text);
  return !!v && copiesVisibleLine(v);
}

function copiesVisibleLine(v: NonNullable<ReturnType<typeof visibleLine>>): boolean {
  const line = v.all.slice(v.start, v.end).trim();
  return line.length >= 8 && /[A-Za-z_$]/.test(line) && v.above !== undefined && copiesLine(line, v.above);
}

const SELF_ASSIGNMENT = /^(\s*(?:(?:const|let|var)\s+)?)([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(\s*=\s*)([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*;\s*$/;

/** Where `text` (suggested at the end of `prefix`) should be decoded again, as an offset in `text`,
 *  or undefined when its line is fine:
 *  - it makes a line that copies the line above (repeatsLineAbove): from its first visible
 *    character, so the whole line is chosen again;
 *  - the line where its first visible text lands, completed with it, assigns a name to itself
 *    (`this._latlngs = this._latlngs;`, a statement that does nothing, which greedy decoding of a
 *    small model writes line after line; held-out real code has 4 such lines in 336k): from the
 *    right-hand side when the suggestion wrote it, keeping the name it assigns. */
export function uselessAt(prefix: string, text: string): number | undefined {
  const v = visibleLine(prefix, text);
  if (!v) return undefined;
  if (copiesVisibleLine(v)) return v.visible;
  const m = SELF_ASSIGNMENT.exec(v.all.slice(v.start, v.end));
  if (!m || m[2] !== m[4]) return undefined;
  const rhs = v.start + m[1].length + m[2].length + m[3].length - v.tail.length;
  return Math.max(rhs, v.visible);
}
