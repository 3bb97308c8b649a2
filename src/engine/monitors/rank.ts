// Ranking of the candidate names at a trigger point: a score in log-probability units over evidence
// the text gives about each name (how often and how recently it followed the same receiver or key, in
// which scope, whether the language service offers it, whether the code after the cursor uses it).
// The shipped scorers are gradient-boosted trees (rank-trees.json, training/evaluation/fit_rank_trees.py);
// the linear and hidden-layer scorers of rank-weights.ts (training/evaluation/fit_rank.py) stay for
// comparison. Both are fitted on `bench-names --candidates --features` dumps; the decoder adds the score
// to the LM's logits on the way to each name, so the LM still chooses where the evidence is even.
import { IDENT_SCORER, MEMBER_SCORER } from './rank-weights';
import RANK_TREES from './rank-trees.json';
import { addUses, dotUses, escapeRe, keyAt, keyEcho, lineKey, siblingMembers, siblingRun, startsStatement, wordShare, wordsOf, type DotUse } from './name-evidence';

export interface RankInput {
  kind: 'member' | 'ident';
  /** member: the receiver's text (`this`, `ps`, `this._cache`) */
  receiver?: string;
  /** the current file before the generation point (document prefix + generated text) */
  before: string;
  /** the current file after the cursor */
  after: string;
  /** other context files, in context order */
  files: { text: string }[];
  /** names the language service offers here (undefined: it did not answer) */
  service?: ReadonlySet<string>;
  /** the service's kind of each name it offers (`method`, `parameter`, `class`, ...) */
  serviceKinds?: ReadonlyMap<string, string>;
  /** at a call's argument: the parameter's name (the service's signature help) */
  param?: string;
}

export const MEMBER_FEATURES = ['block', 'file', 'other', 'nearest', 'last', 'offered', 'notOffered', 'dotFile', 'dotOther', 'suffix', 'line', 'recent', 'copy', 'lineWord', 'copySkip', 'sibling', 'wordLine', 'wordHeader', 'calledStmt', 'calledElse', 'assignedStmt', 'lineKey', 'methodStmt', 'methodElse', 'keyEcho'] as const;
export const IDENT_FEATURES = ['keyCount', 'keyNearest', 'keyLast', 'block', 'wordRecency', 'file', 'other', 'offered', 'notOffered', 'suffix', 'line', 'recent', 'copy', 'param', 'local', 'wordKey', 'wordLine', 'wordHeader', 'imported', 'declared', 'kindLocal', 'kindType', 'kindFunction', 'paramWords', 'paramName', 'keyName', 'keyNameEcho'] as const;

/** A fitted scorer over a feature vector v (nats): linear · v + out · tanh(w v + b), where `w` has a
 *  row of feature weights per hidden unit. training/evaluation/fit_rank.py writes them to
 *  rank-weights.ts. */
export interface LinearScorer {
  linear: readonly number[];
  hidden?: { w: readonly (readonly number[])[]; b: readonly number[]; out: readonly number[] };
}

/** Gradient-boosted trees (LambdaRank; training/evaluation/fit_rank_trees.py writes rank-trees.json):
 *  the sum of the trees' leaves times `scale`, the factor that makes the sum a log-probability. In
 *  each tree, internal node i sends v[f[i]] <= t[i] to l[i], else to r[i]; a child c < 0 is the
 *  leaf whose value is v[~c]. */
export interface TreeScorer {
  features: number;
  scale: number;
  trees: readonly { f: readonly number[]; t: readonly number[]; l: readonly number[]; r: readonly number[]; v: readonly number[] }[];
}

export type RankScorer = LinearScorer | TreeScorer;

export function scoreOf(sc: RankScorer, v: readonly number[]): number {
  if ('trees' in sc) {
    let s = 0;
    for (const t of sc.trees) {
      let n = t.f.length ? 0 : -1; // a tree of one leaf has no internal node
      while (n >= 0) n = v[t.f[n]] <= t.t[n] ? t.l[n] : t.r[n];
      s += t.v[~n];
    }
    return s * sc.scale;
  }
  let s = 0;
  for (let i = 0; i < v.length; i++) s += sc.linear[i] * v[i];
  const h = sc.hidden;
  if (h) {
    for (let u = 0; u < h.b.length; u++) {
      let a = h.b[u];
      const row = h.w[u];
      for (let i = 0; i < v.length; i++) a += row[i] * v[i];
      s += h.out[u] * Math.tanh(a);
    }
  }
  return s;
}

/** The shipped scorers: the trees (bench/names-ranking.md); `fitted` the linear and
 *  hidden-layer scorers of rank-weights.ts they replaced (MonitorOptions.rankScorer, for comparing). */
export const TREE_SCORERS = RANK_TREES as unknown as { member: TreeScorer; ident: TreeScorer };
export function scorerFor(kind: 'member' | 'ident', form: 'trees' | 'fitted' = 'trees'): RankScorer {
  if (form === 'fitted') return kind === 'member' ? MEMBER_SCORER : IDENT_SCORER;
  return TREE_SCORERS[kind];
}

const SELF = new Set(['this', 'self', 'cls', '@']);
const WORD = /[A-Za-z_$][\w$]*/g;
/** How far around the cursor the "recent" and "suffix" evidence looks (characters). */
const NEAR_CHARS = 600;
const SUFFIX_CHARS = 2000;
/** At most this many candidates per trigger (the best by a cheap count first). */
const MAX_CANDIDATES = 400;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** [start, end) of the class (for this/self) or function enclosing the end of `before`, found by
 *  indentation: the nearest header line above with less indentation, to the next line after it
 *  (in before + after) that is not deeper than the header. */
export function enclosingBlock(before: string, after: string, classOnly: boolean): [number, number] | undefined {
  const curLineStart = before.lastIndexOf('\n') + 1;
  let indent = indentOf(before.slice(curLineStart));
  const header = classOnly ? /^\s*(export\s+)?(default\s+)?(abstract\s+)?(class|struct|impl|object|interface)\b/ : /\b(function|def|fn|func|class)\b|=>\s*\{?\s*$|\)\s*(:\s*[^{]*)?\{\s*$/;
  let end = curLineStart - 1;
  while (end > 0) {
    const start = before.lastIndexOf('\n', end - 1) + 1;
    const line = before.slice(start, end);
    if (line.trim()) {
      const ind = indentOf(line);
      if (ind < indent) {
        if (header.test(line)) {
          const text = before + after;
          let stop = text.indexOf('\n', before.length);
          while (stop >= 0) {
            const next = text.indexOf('\n', stop + 1);
            const l = text.slice(stop + 1, next < 0 ? text.length : next);
            if (l.trim() && indentOf(l) <= ind) break;
            stop = next;
          }
          return [start, stop < 0 ? text.length : stop];
        }
        indent = ind;
      }
    }
    end = start - 1;
  }
  return undefined;
}

/** The line that starts at `start` of `text` (a block's header). */
function headerOf(text: string, start: number): string {
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? text.length : end);
}

/** Counts over the other context files, computed once per file list (a session's triggers share it). */
interface FileCounts {
  words: Map<string, number>;
  dots: Map<string, number>;
  uses: Map<string, DotUse>;
}
const fileCounts = new WeakMap<object, FileCounts>();
function countsOf(files: { text: string }[]): FileCounts {
  let c = fileCounts.get(files);
  if (!c) {
    c = { words: new Map(), dots: new Map(), uses: dotUses(files.map((f) => f.text)) };
    for (const file of files) {
      for (const [w, n] of countWords(file.text)) c.words.set(w, (c.words.get(w) ?? 0) + n);
      for (const m of file.text.matchAll(/\.([A-Za-z_$][\w$]*)/g)) c.dots.set(m[1], (c.dots.get(m[1]) ?? 0) + 1);
    }
    fileCounts.set(files, c);
  }
  return c;
}

function countWords(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of text.matchAll(WORD)) m.set(w[0], (m.get(w[0]) ?? 0) + 1);
  return m;
}

/** Name -> feature vector for every candidate (names that followed the receiver or key, names the
 *  service offers, and for identifiers the words of the enclosing block and the lines before). */
export function features(p: RankInput, keyedOnly = false): Map<string, number[]> {
  return p.kind === 'member' ? memberFeatures(p) : identFeatures(p, keyedOnly);
}

/** How many characters (at most COPY_MAX) before each earlier occurrence of a name equal the
 *  characters before the generation point: the longest such match per name, as log(1 + length).
 *  It is the copy an induction head makes (`a.clientX - b.` after `c.clientX - d.clientY`). */
const COPY_MAX = 48;
function copyFeature(texts: string[], before: string, re: RegExp, fromMatchStart = false): Map<string, number> {
  const out = new Map<string, number>();
  const n = before.length;
  for (const t of texts) {
    for (const m of t.matchAll(re)) {
      const nameAt = fromMatchStart ? m.index! : m.index! + m[0].length - m[1].length;
      if (t === before && nameAt >= n) continue;
      let k = 0;
      while (k < COPY_MAX && k < nameAt && t.charCodeAt(nameAt - 1 - k) === before.charCodeAt(n - 1 - k)) k++;
      if (k > (out.get(m[1]) ?? 0)) out.set(m[1], k);
    }
  }
  for (const [name, k] of out) out.set(name, Math.log1p(k));
  return out;
}

function memberFeatures(p: RankInput): Map<string, number[]> {
  const r = p.receiver ?? '';
  const self = SELF.has(r);
  const cursor = p.before.length;
  const text = p.before + p.after;
  const block = enclosingBlock(p.before, p.after, self);
  const lineStart = p.before.lastIndexOf('\n') + 1;
  const f = new Map<string, number[]>();
  const get = (name: string) => f.get(name) ?? (f.set(name, new Array(MEMBER_FEATURES.length).fill(0)), f.get(name)!);
  const occ: { name: string; dist: number }[] = [];
  if (r) {
    const re = new RegExp(`(?<![\\w$.])${escapeRe(r)}\\??\\.([A-Za-z_$][\\w$]*)`, 'g');
    for (const m of text.matchAll(re)) {
      const at = m.index!;
      if (at < cursor && at + m[0].length >= cursor) continue;
      const inBlock = block !== undefined && at >= block[0] && at < block[1];
      if (self && block && !inBlock) continue;
      const v = get(m[1]);
      v[inBlock ? 0 : 1]++;
      if (at < cursor) occ.push({ name: m[1], dist: cursor - at });
      if (at >= lineStart && at < cursor) v[10] = 1;
      if (Math.abs(at - cursor) < NEAR_CHARS) v[11] = 1;
    }
    if (!self) for (const file of p.files) for (const m of file.text.matchAll(re)) get(m[1])[2]++;
  }
  occ.sort((a, b) => a.dist - b.dist);
  const seen = new Set<string>();
  for (const o of occ) {
    if (seen.has(o.name)) continue;
    get(o.name)[3] = 1 / (1 + seen.size);
    seen.add(o.name);
  }
  if (occ.length) get(occ[0].name)[4] = 1;
  // `.name` after any receiver: members of the same type are often reached through other names
  const dotFile = new Map<string, number>();
  for (const m of text.matchAll(/\.([A-Za-z_$][\w$]*)/g)) if (m.index! + 1 !== cursor) dotFile.set(m[1], (dotFile.get(m[1]) ?? 0) + 1);
  const { dots: dotOther, uses: fileUses } = countsOf(p.files);
  if (p.service) for (const n of p.service) get(n);
  else for (const [n, c] of [...dotFile].sort((a, b) => b[1] - a[1]).slice(0, MAX_CANDIDATES)) if (c > 0) get(n);
  const suffixWords = countWords(p.after.slice(0, SUFFIX_CHARS));
  const texts = [...p.files.map((x) => x.text), p.before];
  const copy = copyFeature(texts, p.before, /\.([A-Za-z_$][\w$]*)/g);
  // the same, comparing what precedes the receivers (`x = opts.` after `y = options.y`)
  const receiverAt = p.before.length - (p.before.endsWith('?.') ? 2 : 1) - r.length;
  const beforeReceiver = p.before.slice(0, receiverAt);
  const skip = r && !self ? copyFeature([...p.files.map((x) => x.text), beforeReceiver], beforeReceiver, /(?<![\w$.])[A-Za-z_$][\w$]*\.([A-Za-z_$][\w$]*)/g, true) : new Map<string, number>();
  const lineBefore = p.before.slice(lineStart, receiverAt);
  const lineWords = countWords(lineBefore);
  const lineParts = wordsOf(lineBefore);
  const fn = enclosingBlock(p.before, p.after, false);
  const headerParts = fn ? wordsOf(headerOf(text, fn[0])) : new Set<string>();
  const siblings = r && !self ? siblingMembers([...p.files.map((x) => x.text), p.before, p.after], r) : new Map<string, number>();
  const uses = dotUses([p.before, p.after]);
  const stmt = startsStatement(lineBefore) ? 1 : 0;
  const key = lineKey(lineBefore);
  // `isServer: opts?.` under `errorFormatter: opts?.errorFormatter`: the key is the name written
  const echo = key ? keyEcho(p.before.slice(0, lineStart)) : 0;
  if (echo > 0) get(key);
  for (const [name, v] of f) {
    const u = addUses(fileUses.get(name), uses.get(name));
    v[15] = Math.log1p(siblings.get(name) ?? 0);
    v[16] = wordShare(name, lineParts);
    v[17] = wordShare(name, headerParts);
    v[18] = u ? (stmt * u.called) / u.count : 0;
    v[19] = u ? ((1 - stmt) * u.called) / u.count : 0;
    v[20] = u ? (stmt * u.assigned) / u.count : 0;
    v[21] = name === key ? 1 : 0;
    v[24] = name === key ? echo : 0;
    const kind = p.serviceKinds?.get(name);
    v[22] = kind === 'method' ? stmt : 0;
    v[23] = kind === 'method' ? 1 - stmt : 0;
    v[12] = copy.get(name) ?? 0;
    v[13] = lineWords.has(name) ? 1 : 0;
    v[14] = skip.get(name) ?? 0;
    v[0] = Math.log1p(v[0]);
    v[1] = Math.log1p(v[1]);
    v[2] = Math.log1p(v[2]);
    v[5] = p.service?.has(name) ? 1 : 0;
    v[6] = p.service && !p.service.has(name) ? 1 : 0;
    v[7] = Math.log1p(dotFile.get(name) ?? 0);
    v[8] = Math.log1p(dotOther.get(name) ?? 0);
    v[9] = suffixWords.has(name) ? 1 : 0;
  }
  return f;
}

/** The service's kinds of a name declared in the enclosing functions, and of a type or namespace. */
const LOCAL_KINDS = new Set(['local var', 'parameter', 'let', 'const', 'var', 'local function', 'local class', 'using', 'await using']);
const TYPE_KINDS = new Set(['class', 'interface', 'type', 'enum', 'module', 'alias']);

/** Words that start an expression's keyword, never a name to suggest there. */
const KEYWORDS = new Set(['return', 'const', 'let', 'var', 'function', 'new', 'await', 'typeof', 'if', 'else', 'for', 'while', 'of', 'in']);

/** `keyedOnly`: the candidates are the names that followed the key; the other evidence is looked
 *  up for them only (and nothing is scanned when there are none). */
function identFeatures(p: RankInput, keyedOnly: boolean): Map<string, number[]> {
  const cursor = p.before.length;
  const f = new Map<string, number[]>();
  const get = (name: string) => f.get(name) ?? (f.set(name, new Array(IDENT_FEATURES.length).fill(0)), f.get(name)!);
  // a candidate's vector, or (keyed only) undefined for a name that is not one
  const at = (name: string) => (keyedOnly ? f.get(name) : get(name));
  // the key: the last identifier before the cursor and the punctuation after it (`foo(`, `x =`)
  const key = keyAt(p.before);
  if (key?.punct) {
    const re = new RegExp(`${key.pattern}\\s*([A-Za-z_$][\\w$]*)`, 'g');
    const hits: string[] = [];
    for (const t of [...p.files.map((x) => x.text), p.before.slice(0, key.start)]) for (const h of t.matchAll(re)) hits.push(h[1]);
    const order: string[] = [];
    for (let i = hits.length - 1; i >= 0; i--) {
      get(hits[i])[0]++;
      if (!order.includes(hits[i])) order.push(hits[i]);
    }
    order.forEach((n, rank) => (get(n)[1] = 1 / (1 + rank)));
    if (order.length) get(order[0])[2] = 1;
  }
  if (keyedOnly && !f.size) return f;
  // `Map.TouchZoom = ` under `Map.BoxZoom = BoxZoom;`: the key is the name written
  const keyName = key && (key.punct === ':' || key.punct === '=') ? key.name : '';
  const nameEcho = keyName ? keyEcho(p.before.slice(0, p.before.lastIndexOf('\n') + 1), true) : 0;
  if (nameEcho > 0) at(keyName);
  const block = enclosingBlock(p.before, p.after, false);
  const blockText = block ? (p.before + p.after).slice(block[0], Math.max(block[0], Math.min(block[1], cursor))) : p.before.slice(-NEAR_CHARS * 4);
  // the enclosing function's parameters (its header line) and the names declared in it so far
  const header = block ? blockText.slice(0, (blockText + '\n').indexOf('\n')) : '';
  const params = countWords(header.slice(Math.max(0, header.indexOf('('))));
  const locals = new Set([...blockText.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
  for (const [w, c] of countWords(blockText)) {
    const v = at(w);
    if (v) v[3] = Math.log1p(c);
  }
  // distinct words by their last occurrence before the cursor, nearest first
  const words = [...p.before.slice(-NEAR_CHARS * 4).matchAll(WORD)].map((m) => m[0]);
  const seen = new Set<string>();
  for (let i = words.length - 1; i >= 0 && seen.size < MAX_CANDIDATES; i--) {
    if (seen.has(words[i])) continue;
    const v = at(words[i]);
    if (v) v[4] = 1 / (1 + seen.size);
    seen.add(words[i]);
  }
  if (p.service && !keyedOnly) for (const n of p.service) if (f.has(n) || f.size < MAX_CANDIDATES) get(n);
  const fileWords = countWords(p.before);
  const otherWords = countsOf(p.files).words;
  const suffixWords = countWords(p.after.slice(0, SUFFIX_CHARS));
  const lineWords = countWords(p.before.slice(p.before.lastIndexOf('\n') + 1));
  const recentWords = countWords(p.before.slice(-NEAR_CHARS));
  const copy = copyFeature([...p.files.map((x) => x.text), p.before], p.before, /(?<![\w$])([A-Za-z_$][\w$]*)/g);
  const line = p.before.slice(p.before.lastIndexOf('\n') + 1);
  const keyParts = key ? wordsOf(key.name) : new Set<string>();
  const lineParts = wordsOf(key ? line.slice(0, Math.max(0, line.length - (p.before.length - key.start))) : line);
  const headerParts = wordsOf(header);
  const imports = new Set<string>();
  for (const m of p.before.matchAll(/^\s*(?:import\b[^\n]*|(?:const|let|var)\b[^\n]*\brequire\s*\([^\n]*)$/gm)) for (const w of m[0].matchAll(WORD)) imports.add(w[0]);
  const paramParts = wordsOf(p.param ?? '');
  const declared = new Set([...p.before.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
  for (const [name, v] of f) {
    v[15] = wordShare(name, keyParts);
    v[16] = wordShare(name, lineParts);
    v[17] = wordShare(name, headerParts);
    v[18] = imports.has(name) ? 1 : 0;
    v[19] = declared.has(name) ? 1 : 0;
    const kind = p.serviceKinds?.get(name);
    v[20] = kind && LOCAL_KINDS.has(kind) ? 1 : 0;
    v[21] = kind && TYPE_KINDS.has(kind) ? 1 : 0;
    v[22] = kind === 'function' || kind === 'local function' ? 1 : 0;
    v[23] = p.param ? wordShare(name, paramParts) : 0;
    v[24] = p.param !== undefined && name.toLowerCase() === p.param.replace(/^[_$]+/, '').toLowerCase() ? 1 : 0;
    v[25] = name === keyName ? 1 : 0;
    v[26] = name === keyName ? nameEcho : 0;
    v[12] = copy.get(name) ?? 0;
    v[13] = params.has(name) ? 1 : 0;
    v[14] = locals.has(name) ? 1 : 0;
    v[0] = Math.log1p(v[0]);
    v[5] = Math.log1p(fileWords.get(name) ?? 0);
    v[6] = Math.log1p(otherWords.get(name) ?? 0);
    v[7] = p.service?.has(name) ? 1 : 0;
    v[8] = p.service && !p.service.has(name) ? 1 : 0;
    v[9] = suffixWords.has(name) ? 1 : 0;
    v[10] = lineWords.has(name) ? 1 : 0;
    v[11] = recentWords.has(name) ? 1 : 0;
  }
  for (const k of KEYWORDS) f.delete(k);
  // a declaration's initializer does not start with the name it declares (`const delayMs = delayMs`)
  const decl = /^\s*(?:export\s+)?(?:const|let|var|using)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]*)?=\s*$/.exec(line);
  if (decl) f.delete(decl[1]);
  return f;
}

/** Name -> score in nats relative to the best candidate (0 for the best, negative for the rest).
 *  `keyedOnly` (identifier starts): only names that followed the same key before are candidates. */
export function rank(p: RankInput, opts: { scorer?: RankScorer; keyedOnly?: boolean } = {}): Map<string, number> {
  const sc = opts.scorer ?? scorerFor(p.kind);
  const out = new Map<string, number>();
  let best = -Infinity;
  // after a run of `recv.a = ...` / `recv.a,` lines the next sibling names another member
  const run = p.kind === 'member' && p.receiver ? siblingRun(p.before, p.receiver) : undefined;
  for (const [name, v] of features(p, opts.keyedOnly)) {
    if (run?.has(name)) continue;
    const s = scoreOf(sc, v);
    out.set(name, s);
    if (s > best) best = s;
  }
  for (const [k, s] of out) out.set(k, s - best);
  return out;
}
