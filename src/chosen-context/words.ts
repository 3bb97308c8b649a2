// Chosen context comes as token spans, and a code tokenizer cuts identifiers into pieces (`pro` of
// `provider`, `Hostname` of `apiHostname`); a highlight on a fragment reads as noise. This grows
// every span to the whole words it touches and splits it at line breaks, so what is drawn is
// words and punctuation a person can read, one line at a time.

export interface TextSpan {
  start: number; // offsets into the text, end exclusive
  end: number;
  score: number;
  heads?: number;
}

/** Letters, digits, combining marks, `_` and `$`: the characters of an identifier or a word. */
const WORD = /^[\p{L}\p{N}\p{M}_$]$/u;

/** The code point that starts at `i`, as a string (both halves of a surrogate pair). */
function charAt(text: string, i: number): string {
  return String.fromCodePoint(text.codePointAt(i) ?? 0);
}

/** The code point that ends just before `i`. */
function charBefore(text: string, i: number): string {
  const low = text.charCodeAt(i - 1);
  if (i >= 2 && low >= 0xdc00 && low <= 0xdfff) return text.slice(i - 2, i);
  return text.slice(i - 1, i);
}

function isWord(ch: string): boolean {
  return ch !== '' && WORD.test(ch);
}

const BLANK = /[ \t\r\f\v\u00a0]/;

/**
 * Spans over `text` → whole-word spans on single lines, merged where they overlap.
 * - A span that starts or ends inside a word grows to the word's edge (`pro` → `provider`).
 * - A span over several lines becomes one span per line; leading and trailing blanks are cut,
 *   and a piece with nothing but blanks is dropped (a highlighted indent shows nothing).
 * - Spans that overlap after growing (two tokens of one word) merge into one, with the maximum
 *   score and heads (the same heads read neighbouring tokens, so a sum would overcount).
 * - Punctuation stays as it is: only word characters grow a span.
 * Growth stops at `bounds` (the part of `text` that was context); the input is not modified.
 */
export function wholeWords<T extends TextSpan>(text: string, spans: readonly T[], bounds = { start: 0, end: text.length }): T[] {
  const lo = Math.max(0, bounds.start);
  const hi = Math.min(text.length, bounds.end);
  const pieces: T[] = [];
  for (const s of spans) {
    const start = Math.max(s.start, lo);
    const end = Math.min(s.end, hi);
    let from = start;
    while (from < end) {
      const nl = text.indexOf('\n', from);
      const lineEnd = nl < 0 || nl >= end ? end : nl;
      const piece = grow(text, trim(text, from, lineEnd), lo, hi);
      if (piece) pieces.push({ ...s, start: piece[0], end: piece[1] });
      from = lineEnd + 1;
    }
  }
  pieces.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: T[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && p.start < last.end) {
      last.end = Math.max(last.end, p.end);
      last.score = Math.max(last.score, p.score);
      if (p.heads !== undefined || last.heads !== undefined) last.heads = Math.max(last.heads ?? 0, p.heads ?? 0);
    } else out.push(p);
  }
  return out;
}

/** [from, to) without leading and trailing blanks; undefined when nothing is left. */
function trim(text: string, from: number, to: number): [number, number] | undefined {
  while (from < to && BLANK.test(text[from])) from++;
  while (to > from && BLANK.test(text[to - 1])) to--;
  return to > from ? [from, to] : undefined;
}

/** Widens [from, to) to the edges of the words it starts and ends in, within [lo, hi). */
function grow(text: string, range: [number, number] | undefined, lo: number, hi: number): [number, number] | undefined {
  if (!range) return undefined;
  let [from, to] = range;
  if (isWord(charAt(text, from))) {
    while (from > lo) {
      const ch = charBefore(text, from);
      if (!isWord(ch)) break;
      from -= ch.length;
    }
  }
  if (isWord(charBefore(text, to))) {
    while (to < hi) {
      const ch = charAt(text, to);
      if (!isWord(ch)) break;
      to += ch.length;
    }
  }
  return [Math.max(from, lo), Math.min(to, hi)];
}
