// Evidence about a candidate name that its spelling and its uses give, beside where it occurred
// (rank.ts): which words it is made of, how it is used after a `.` (called, assigned), and which
// names followed receivers that are spelled like this one (`this._cache.` and `cache.` are likely
// the same type).

/** A name's words, lower-cased: camelCase, PascalCase, snake_case and digits split, `_`/`$` dropped
 *  (`_cacheKey` -> cache, key; `HTTPServer` -> http, server). */
export function subwords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+|(?<=\D)(?=\d)|(?<=\d)(?=\D)/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

/** The share of `name`'s words found in `words` (0 when it has none). */
export function wordShare(name: string, words: ReadonlySet<string>): number {
  const parts = subwords(name);
  if (!parts.length) return 0;
  let n = 0;
  for (const p of parts) if (words.has(p)) n++;
  return n / parts.length;
}

/** The words of every identifier in `text`. */
export function wordsOf(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z_$][\w$]*/g)) for (const w of subwords(m[0])) out.add(w);
  return out;
}

export interface DotUse {
  /** `.name` occurrences */
  count: number;
  /** of those, followed by `(` (a call) */
  called: number;
  /** of those, followed by `=` that is not `==`/`=>` (an assignment) */
  assigned: number;
}

const DOT_USE = /\.([A-Za-z_$][\w$]*)\s*(\(|=(?![=>])|)/g;

/** How each name is used after a `.` in `texts`. */
export function dotUses(texts: string[]): Map<string, DotUse> {
  const out = new Map<string, DotUse>();
  for (const t of texts) {
    for (const m of t.matchAll(DOT_USE)) {
      let u = out.get(m[1]);
      if (!u) out.set(m[1], (u = { count: 0, called: 0, assigned: 0 }));
      u.count++;
      if (m[2] === '(') u.called++;
      else if (m[2]) u.assigned++;
    }
  }
  return out;
}

/** The uses of a name in two sets of texts together. */
export function addUses(a: DotUse | undefined, b: DotUse | undefined): DotUse | undefined {
  if (!a || !b) return a ?? b;
  return { count: a.count + b.count, called: a.called + b.called, assigned: a.assigned + b.assigned };
}

/** The last word of a receiver (`this._cache` -> cache, `opts` -> opts); '' for `this`/`self`. */
export function receiverWord(receiver: string): string {
  const last = receiver.slice(receiver.lastIndexOf('.') + 1);
  if (last === 'this' || last === 'self') return '';
  const parts = subwords(last);
  return parts[parts.length - 1] ?? '';
}

/** How often each name followed a receiver other than `receiver` whose last word is the same
 *  (`cache.get` for `this._cache.`), in `texts`. */
export function siblingMembers(texts: string[], receiver: string): Map<string, number> {
  const out = new Map<string, number>();
  const word = receiverWord(receiver);
  if (word.length < 3) return out;
  const re = /(?<![\w$])((?:[A-Za-z_$][\w$]*\??\.)*[A-Za-z_$][\w$]*)\??\.([A-Za-z_$][\w$]*)/g;
  for (const t of texts) {
    for (const m of t.matchAll(re)) {
      if (m[1] === receiver || receiverWord(m[1]) !== word) continue;
      out.set(m[2], (out.get(m[2]) ?? 0) + 1);
    }
  }
  return out;
}

/** The receiver starts a statement: nothing but spacing (or `await`) before it on its line. */
export function startsStatement(lineBeforeReceiver: string): boolean {
  return /^\s*(await\s+)?$/.test(lineBeforeReceiver);
}

/** The name a line assigns or keys before the expression being written (`clientY: e.` -> clientY,
 *  `vid.muted = !!this.options.` -> muted, `const width = ` -> width): an expression often reads the
 *  member of the same name. */
export function lineKey(lineBefore: string): string {
  const m = /^\s*(?:(?:const|let|var)\s+)?(?:[\w$]+\??\.)*([A-Za-z_$][\w$]*)\s*(?::|=(?![=>]))/.exec(lineBefore);
  return m ? m[1] : '';
}

const KEYED_READ = /^\s*(?:(?:const|let|var)\s+)?(?:[\w$]+\??\.)*([A-Za-z_$][\w$]*)\s*(?::|=(?![=>]))\s*(?:!!|!|await\s+|\.\.\.)?(?:[A-Za-z_$][\w$]*\??\.)+([A-Za-z_$][\w$]*)/;

/** A whole value that is a plain name (`key: name,`, `Map.key = name;`). */
const KEYED_NAME = /^\s*(?:(?:const|let|var)\s+)?(?:[\w$]+\??\.)*([A-Za-z_$][\w$]*)\s*(?::|=(?![=>]))\s*([A-Za-z_$][\w$]*)\s*[,;]?\s*$/;

/** Of the last `n` lines above (within `span` lines) that key or assign a member read
 *  (`key: recv.name`, `x.key = !!recv.name`; with `plain`, a plain name: `Map.key = name;`), the
 *  share whose name equals its key: where the lines above echo their keys, the line being written
 *  likely does too. */
export function keyEcho(textAbove: string, plain = false, n = 4, span = 8): number {
  const re = plain ? KEYED_NAME : KEYED_READ;
  const lines = textAbove.split('\n').slice(-span - 1);
  let keyed = 0;
  let echoed = 0;
  for (let i = lines.length - 1; i >= 0 && keyed < n; i--) {
    const m = re.exec(lines[i]);
    if (!m) continue;
    keyed++;
    if (m[1] === m[2]) echoed++;
  }
  return keyed ? echoed / keyed : 0;
}

/** How far up a run of sibling lines is read. */
const RUN_LINES = 64;

/** The members a run of sibling lines just above already took. Where the line so far is only
 *  spacing and `receiver.`, and the lines right above at the same indentation are each
 *  `receiver.NAME = ...` or `receiver.NAME,` (assignments in a row, a list), the line being written
 *  names another member: the run's names, which the ranking's recency and copy evidence favour,
 *  are rarely the next one (bench/names-ranking.md, session 24). Blank lines do not break a run. */
export function siblingRun(before: string, receiver: string): Set<string> {
  const out = new Set<string>();
  const lineStart = before.lastIndexOf('\n') + 1;
  const cur = /^([ \t]*)(.*)$/.exec(before.slice(lineStart))!;
  if (cur[2] !== `${receiver}.`) return out;
  const sibling = new RegExp(`^${escapeRe(cur[1])}${escapeRe(receiver)}\\.([A-Za-z_$][\\w$]*)(?:\\s*=(?![=>])|\\s*,\\s*$)`);
  let end = lineStart - 1;
  for (let n = 0; n < RUN_LINES && end > 0; n++) {
    const start = before.lastIndexOf('\n', end - 1) + 1;
    const line = before.slice(start, end);
    end = start - 1;
    if (!line.trim()) continue;
    const m = sibling.exec(line);
    if (!m) break;
    out.add(m[1]);
  }
  return out;
}

/** Keywords that begin a value or an expression rather than name one (`x = true`,
 *  `m: function () {`, `f(new Error())`). */
const NOT_NAMES = new Set(['true', 'false', 'null', 'undefined', 'None', 'True', 'False', 'nil', 'function', 'new', 'await', 'typeof', 'async', 'class', 'void', 'delete', 'yield', 'lambda', 'not']);

/** A line that is an object property or a dict entry up to its value (`  onRemove: `). */
const PROPERTY_LINE = /^[ \t]*[A-Za-z_$][\w$]*[ \t]*:[ \t]*$/;
const PROPERTY_VALUE = /^[ \t]*[A-Za-z_$][\w$]*[ \t]*:[ \t]*(\S)([\w$]*)/gm;

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The key at the end of `before`: its last identifier and the punctuation after it on the same
 *  line, spacing dropped (`foo(`, `x =`, `type:`; '' where the identifier ends the text), the
 *  key's offset, and a pattern source that matches the key written elsewhere, spacing aside.
 *  Undefined where no identifier ends the line. */
export function keyAt(before: string): { name: string; punct: string; start: number; pattern: string } | undefined {
  const tail = before.slice(-256);
  const km = /([A-Za-z_$][\w$]*)([^\w$\n]*)$/.exec(tail);
  if (!km) return undefined;
  const punct = km[2].replace(/\s+/g, '');
  return { name: km[1], punct, start: before.length - tail.length + km.index, pattern: `(?<![\\w$])${escapeRe(km[1])}${[...punct].map((c) => `\\s*${escapeRe(c)}`).join('')}` };
}

/** What followed the same key before (the key: the last identifier before the cursor and the
 *  punctuation after it, `type:`, `foo(`, `x =`), in the context `files` and in the current file
 *  before the key (`before` ends at the cursor): how often a name came next, and how often
 *  something else (a literal, a bracket, a word that is not a name). Where the key never came
 *  before and the line is an object property up to its value, what followed any property at a line
 *  start instead (`onRemove: ` among `onAdd: function () {` lines). Undefined where the text does
 *  not end in such a key. */
export function keyFollowers(files: string[], before: string): { name: number; other: number } | undefined {
  const key = keyAt(before);
  if (!key?.punct) return undefined;
  const re = new RegExp(`${key.pattern}[ \\t]*(\\S)([\\w$]*)`, 'g');
  const texts = [...files, before.slice(0, key.start)];
  const count = (r: RegExp) => {
    const n = { name: 0, other: 0 };
    for (const text of texts) {
      for (const m of text.matchAll(r)) {
        const word = /[A-Za-z_$]/.test(m[1]) ? m[1] + m[2] : '';
        if (word && !NOT_NAMES.has(word)) n.name++;
        else n.other++;
      }
    }
    return n;
  };
  const n = count(re);
  if (n.name + n.other > 0 || !PROPERTY_LINE.test(before.slice(before.lastIndexOf('\n') + 1))) return n;
  return count(PROPERTY_VALUE);
}
