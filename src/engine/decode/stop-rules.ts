// When a completion ends, and which tokens it may not repeat.
import type { CompleteResult } from '../../shared/protocol';

export function lastLine(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

export function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

export const MAX_LINES = 16;

/** Stop rules on the decoded text: single-line mode ends at the first newline after content;
 *  multi-line ends after MAX_LINES, when a finished line dedents below the cursor's block, or when
 *  a finished line repeats an earlier finished line of the completion (greedy loops). `head` is the
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
  const done = lines.slice(0, -1).map((l, i) => (i === 0 ? head + l : l).trim()).filter((l) => l.length > 3);
  if (new Set(done).size < done.length) return 'repetition';
  return undefined;
}

/** The text a stop rule keeps: a 'repetition' stop drops the repeated line (`head` as in lineStop). */
export function trimAtStop(text: string, reason: CompleteResult['stopReason'], head = ''): string {
  if (reason !== 'repetition') return text;
  const lines = text.split('\n');
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const t = (i === 0 ? head + lines[i] : lines[i]).trim();
    if (t.length > 3 && seen.has(t)) return lines.slice(0, i).join('\n').replace(/\s+$/, '');
    if (t.length > 3) seen.add(t);
  }
  return text;
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

/** Retries of a suggestion that repeats the line above (engine.ts); 0 turns the rule off (tests). */
export const LINE_ABOVE = { retries: 2 };

/** Whether `text`, suggested on a line that is blank so far (the end of `prefix`), starts with a
 *  copy of the non-blank line above it: greedy decoding of a small model, after a line was typed
 *  and Enter pressed, often suggests that same line again (`this._latlngs = this._latlngs;`).
 *  Short lines (`},`, `break;`) may repeat and are not counted. */
export function repeatsLineAbove(prefix: string, text: string): boolean {
  const nl = prefix.lastIndexOf('\n');
  if (nl < 0 || prefix.slice(nl + 1).trim()) return false;
  const first = text.split('\n').find((l) => l.trim())?.trim() ?? '';
  if (first.length < 8 || !/[A-Za-z_$]/.test(first)) return false;
  const above = prefix.slice(0, nl).trimEnd();
  const line = above.slice(above.lastIndexOf('\n') + 1).trim();
  return line === first;
}

/** The index in `out` of the first token with visible text (past leading whitespace), given the
 *  text the tokens decode to: where a repeated line starts. */
export function firstVisibleToken(out: number[], decode: (ids: number[]) => string): number {
  for (let j = 0; j < out.length; j++) if (decode(out.slice(0, j + 1)).trim()) return j;
  return out.length;
}
