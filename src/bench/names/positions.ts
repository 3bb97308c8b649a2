// Where the bench cuts held-out files: next-identifier positions (after `receiver.`, and at the
// start of a call argument or of the value after `=`) and line-completion cuts (mid-line, at a
// token boundary). Pure: text in, positions out; the runner decides which ones it keeps.
import ts from 'typescript';
import { scriptKindOf } from '../../engine/monitors/syntax-check';
import { mulberry32 } from '../../shared/random';

export type NimKind = 'dot' | 'arg';
/** `arg` covers both call arguments and the value after `=` (declaration, assignment, default). */
export type NimSite = 'dot' | 'call-arg' | 'assign';

export interface NimPosition {
  file: string;
  offset: number; // the identifier's first character; the text before it is the prefix
  kind: NimKind;
  site: NimSite;
  target: string; // the identifier written there
}

export interface LinePosition {
  file: string;
  offset: number; // the cut, at the start of a token inside the line
  lineStart: number;
  lineEnd: number; // offset of the line's '\n' (or the end of the text)
  target: string; // the rest of the line after the cut, trailing whitespace removed
}

/** Targets shorter than this are mostly loop counters and one-letter parameters. */
export const MIN_TARGET_CHARS = 2;
/** Line-completion lines: between these lengths (trimmed), with at least this many tokens. */
export const LINE_MIN_CHARS = 8;
export const LINE_MAX_CHARS = 160;
export const LINE_MIN_TOKENS = 4;
/** The rest of the line must hold at least this many non-space characters. */
export const LINE_MIN_TARGET_CHARS = 3;

const IDENT = /^[A-Za-z_$][\w$]*/;


export function parse(file: string, text: string): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKindOf(file));
}

/** Offset where the second half of the text begins (positions are taken from there on, so the
 *  first half is context the model has read). */
export function secondHalfStart(text: string): number {
  return Math.floor(text.length / 2);
}

function isJsDoc(n: ts.Node): boolean {
  return n.kind >= ts.SyntaxKind.FirstJSDocNode && n.kind <= ts.SyntaxKind.LastJSDocNode;
}

/** The first token of an expression, descending through its leftmost children. */
function leftmostToken(n: ts.Node, sf: ts.SourceFile): ts.Node {
  let cur = n;
  for (;;) {
    const kids = cur.getChildren(sf).filter((k) => !isJsDoc(k));
    if (!kids.length) return cur;
    cur = kids[0];
  }
}

/** The expression's start when it begins with a plain identifier (not a keyword, not a function). */
function identifierStart(e: ts.Expression | undefined, sf: ts.SourceFile): { offset: number; name: string } | undefined {
  if (!e || ts.isArrowFunction(e) || ts.isFunctionExpression(e) || ts.isClassExpression(e)) return undefined;
  const first = leftmostToken(e, sf);
  if (first.kind !== ts.SyntaxKind.Identifier) return undefined;
  return { offset: first.getStart(sf), name: (first as ts.Identifier).text };
}

/** Every next-identifier position of the file in its second half (no check of what came before). */
export function nimPositions(file: string, text: string): NimPosition[] {
  const sf = parse(file, text);
  const from = secondHalfStart(text);
  const out: NimPosition[] = [];
  const add = (offset: number, name: string, site: NimSite) => {
    if (offset < from || name.length < MIN_TARGET_CHARS) return;
    if (!IDENT.test(text.slice(offset, offset + name.length)) || text.slice(offset, offset + name.length) !== name) return;
    out.push({ file, offset, kind: site === 'dot' ? 'dot' : 'arg', site, target: name });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.name)) {
      const at = n.name.getStart(sf);
      // `receiver.name` written together: the dot right before the name, a receiver right before it
      if (text[at - 1] === '.' && /[\w$)\]?]/.test(text[at - 2] ?? '')) add(at, n.name.text, 'dot');
    } else if ((ts.isCallExpression(n) || ts.isNewExpression(n)) && n.arguments) {
      for (const a of n.arguments) {
        const s = identifierStart(a, sf);
        if (s) add(s.offset, s.name, 'call-arg');
      }
    } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      const s = identifierStart(n.right, sf);
      if (s) add(s.offset, s.name, 'assign');
    } else if (ts.isVariableDeclaration(n) || ts.isPropertyDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) {
      const s = identifierStart(n.initializer, sf);
      if (s) add(s.offset, s.name, 'assign');
    }
    n.forEachChild(visit);
  };
  visit(sf);
  const seen = new Set<number>();
  return out.filter((p) => !seen.has(p.offset) && seen.add(p.offset)).sort((a, b) => a.offset - b.offset);
}

/** Start offsets of all tokens (comments and whitespace excluded), ascending. */
export function tokenStarts(sf: ts.SourceFile): number[] {
  const starts: number[] = [];
  const walk = (n: ts.Node) => {
    if (isJsDoc(n)) return;
    const kids = n.getChildren(sf);
    if (!kids.length) {
      if (n.kind !== ts.SyntaxKind.EndOfFileToken && n.end > n.pos) starts.push(n.getStart(sf));
      return;
    }
    for (const k of kids) walk(k);
  };
  walk(sf);
  return starts.sort((a, b) => a - b);
}

/** Line-completion cuts in the file's second half: for each code line that qualifies (length,
 *  token count, its first token starting on it), one cut at a token start after the first token,
 *  chosen by `rand` among those that leave enough of the line to predict. */
export function linePositions(file: string, text: string, rand: () => number): LinePosition[] {
  const sf = parse(file, text);
  const starts = tokenStarts(sf);
  const from = secondHalfStart(text);
  const out: LinePosition[] = [];
  let i = 0;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd);
    while (i < starts.length && starts[i] < lineStart) i++;
    const onLine: number[] = [];
    for (let j = i; j < starts.length && starts[j] < lineEnd; j++) onLine.push(starts[j]);
    const trimmed = line.trim();
    const firstCol = line.length - line.trimStart().length;
    if (
      lineStart >= from &&
      trimmed.length >= LINE_MIN_CHARS &&
      trimmed.length <= LINE_MAX_CHARS &&
      onLine.length >= LINE_MIN_TOKENS &&
      onLine[0] === lineStart + firstCol
    ) {
      const cuts = onLine.slice(1).filter((c) => text.slice(c, lineEnd).replace(/\s/g, '').length >= LINE_MIN_TARGET_CHARS);
      if (cuts.length) {
        const cut = cuts[Math.min(cuts.length - 1, Math.floor(rand() * cuts.length))];
        out.push({ file, offset: cut, lineStart, lineEnd, target: text.slice(cut, lineEnd).trimEnd() });
      }
    }
    if (lineEnd >= text.length) break;
    lineStart = lineEnd + 1;
  }
  return out;
}

/** Whole-word occurrence of `ident` in `text` (identifier characters may not touch it). */
export function containsIdentifier(text: string, ident: string): boolean {
  let at = text.indexOf(ident);
  while (at >= 0) {
    const before = at > 0 ? text[at - 1] : '';
    const after = text[at + ident.length] ?? '';
    if (!/[\w$]/.test(before) && !/[\w$]/.test(after)) return true;
    at = text.indexOf(ident, at + 1);
  }
  return false;
}

/** The text the model sees before the cursor: related files in order, then the current prefix. */
export function visibleBefore(ctx: { files: { text: string }[]; current: { prefix: string } }): string {
  return ctx.files.map((f) => f.text).join('\n') + '\n' + ctx.current.prefix;
}

/** Seeded PRNG: the same seed gives the same positions on every machine. */
export const seeded = mulberry32;

export function shuffle<T>(items: readonly T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Draws up to `n` positions: groups (families) take turns in a seeded order, each group's
 *  candidates are seeded-shuffled, at most `perFile` come from one file, and `accept` (e.g. "the
 *  identifier is visible in the assembled context") may still reject a candidate. The result is
 *  sorted by group, file and offset so consecutive positions share a workspace and a file. */
export async function draw<T extends { file: string; offset: number }>(
  groups: ReadonlyMap<string, readonly T[]>,
  n: number,
  seed: number,
  perFile: number,
  accept: (c: T, group: string) => boolean | Promise<boolean>,
): Promise<{ group: string; item: T }[]> {
  const rand = seeded(seed);
  const names = shuffle([...groups.keys()].sort(), rand);
  const queues = names.map((g) => ({ g, items: shuffle(groups.get(g) ?? [], rand), at: 0 }));
  const perFileCount = new Map<string, number>();
  const picked: { group: string; item: T }[] = [];
  while (picked.length < n) {
    let progressed = false;
    for (const q of queues) {
      if (picked.length >= n) break;
      while (q.at < q.items.length) {
        const c = q.items[q.at++];
        const key = `${q.g}\0${c.file}`;
        if ((perFileCount.get(key) ?? 0) >= perFile) continue;
        if (!(await accept(c, q.g))) continue;
        perFileCount.set(key, (perFileCount.get(key) ?? 0) + 1);
        picked.push({ group: q.g, item: c });
        progressed = true;
        break;
      }
    }
    if (!progressed) break;
  }
  const order = new Map(names.map((g, i) => [g, i]));
  return picked.sort((a, b) => order.get(a.group)! - order.get(b.group)! || a.item.file.localeCompare(b.item.file) || a.item.offset - b.item.offset);
}
