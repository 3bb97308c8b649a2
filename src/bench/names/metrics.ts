// Scores of one completion (pure): the next-identifier hit rule, CrossCodeEval-style exact match
// and edit similarity, the repeated-span measure, and the two floor rules that use no model.

/** The first line of a completion: single-line completions end at their first newline. */
export function firstLine(completion: string): string {
  const nl = completion.indexOf('\n');
  return nl < 0 ? completion : completion.slice(0, nl);
}

/** The identifier a completion starts with (leading spaces skipped), or '' when it starts with
 *  anything else. Only the first line counts. */
export function firstIdentifier(completion: string): string {
  return /^[A-Za-z_$][\w$]*/.exec(firstLine(completion).trimStart())?.[0] ?? '';
}

/** Next-identifier hit: the completion's first whole identifier is the one that was written.
 *  `fooBar` for `foo` is a miss (whole identifier), and so is `(foo` (it must come first). */
export function nimHit(completion: string, target: string): boolean {
  return target.length > 0 && firstIdentifier(completion) === target;
}

export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** Edit similarity 0-100 as CrossCodeEval reports it: 100 · (1 − Levenshtein / max length), on the
 *  completion's first line and the rest of the original line, both trimmed. Two empty strings: 100. */
export function editSimilarity(prediction: string, target: string): number {
  const a = firstLine(prediction).trim();
  const b = target.trim();
  const m = Math.max(a.length, b.length);
  return m === 0 ? 100 : 100 * (1 - levenshtein(a, b) / m);
}

export function exactMatch(prediction: string, target: string): boolean {
  return firstLine(prediction).trim() === target.trim();
}

/** Tokens for the repetition measure: identifiers, numbers, and each other non-space character. */
export function lexTokens(text: string): string[] {
  return text.match(/[A-Za-z_$][\w$]*|\d+(?:\.\d+)?|\S/g) ?? [];
}

export const REPEAT_MIN_SPAN = 3;
export const REPEAT_MIN_TIMES = 3;

/** The shortest span of >= REPEAT_MIN_SPAN tokens that occurs >= REPEAT_MIN_TIMES times without
 *  overlapping itself (counted left to right), or undefined. Tokens are `lexTokens` of the text. */
export function repeatedSpan(text: string): string[] | undefined {
  const t = lexTokens(text);
  for (let n = REPEAT_MIN_SPAN; n * REPEAT_MIN_TIMES <= t.length; n++) {
    const seenAt = new Map<string, number[]>();
    for (let i = 0; i + n <= t.length; i++) {
      const key = t.slice(i, i + n).join('\u0000');
      const at = seenAt.get(key);
      if (!at) seenAt.set(key, [i]);
      else if (i >= at[at.length - 1] + n) {
        at.push(i);
        if (at.length >= REPEAT_MIN_TIMES) return t.slice(i, i + n);
      }
    }
  }
  return undefined;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The recency floor for next-identifier positions: the key is the last identifier before the
 *  cursor plus the punctuation between it and the cursor (spaces ignored): `foo.` for
 *  `this.foo.`, `bar(` for `bar(`, `x=` for `const x = `. The guess is the identifier that
 *  followed the key's last earlier occurrence in `visible` (the text the model sees before the
 *  cursor), or '' when the key never occurred with an identifier after it. */
export function recencyGuess(visible: string): string {
  const m = /([A-Za-z_$][\w$]*)([^\w$]*)$/.exec(visible);
  if (!m) return '';
  const punct = m[2].replace(/\s+/g, '');
  if (!punct) return '';
  const re = new RegExp(`(?<![\\w$])${escapeRe(m[1])}\\s*${[...punct].map(escapeRe).join('\\s*')}\\s*([A-Za-z_$][\\w$]*)`, 'g');
  let guess = '';
  for (const hit of visible.matchAll(re)) guess = hit[1];
  return guess;
}

export const COPY_MIN_CHARS = 3;
export const COPY_MAX_CHARS = 80;

/** The copy floor for line completion: the longest tail (COPY_MIN_CHARS..COPY_MAX_CHARS
 *  characters) of the cut line that occurred earlier in `visible`; the guess is what followed its
 *  last earlier occurrence up to that line's end, or '' when no tail occurred before. */
export function copyGuess(visible: string): string {
  const lineStart = visible.lastIndexOf('\n') + 1;
  const cur = visible.slice(lineStart);
  const before = visible.slice(0, lineStart);
  const head = cur.length - cur.trimStart().length;
  for (let len = Math.min(COPY_MAX_CHARS, cur.length - head); len >= COPY_MIN_CHARS; len--) {
    const tail = cur.slice(cur.length - len);
    const at = before.lastIndexOf(tail);
    if (at < 0) continue;
    let end = before.indexOf('\n', at + len);
    if (end < 0) end = before.length;
    return before.slice(at + len, end).trimEnd();
  }
  return '';
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
