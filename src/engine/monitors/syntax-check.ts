// Does inserting a completion add a syntax error, and how much of it can stay? The file is parsed
// (the TypeScript parser's diagnostics, syntax only, no type check) with the insertion and
// without it. An error is new when the version with the insertion has it near the insertion, from
// the start of the cut line to the end of the line after the insertion, and the version without it
// has none at the same place (offsets after the insertion shifted back). After the insertion an
// error where the file already had one is not new: a line cut inside a call is broken already, and
// a completion that leaves the call open changes the message there (`')' expected` becomes
// `',' expected`) without adding an error. The engine cuts its suggestions with this rule and the
// names bench (src/bench/names/syntax.ts) measures with it, so the two agree on what "adds an
// error" means; the bench reports a stricter rule beside it (another code at the same place counts).
import ts from 'typescript';

export function scriptKindOf(file: string): ts.ScriptKind {
  if (/\.(ts|mts|cts)$/.test(file)) return ts.ScriptKind.TS;
  if (/\.tsx$/.test(file)) return ts.ScriptKind.TSX;
  if (/\.jsx$/.test(file)) return ts.ScriptKind.JSX;
  return ts.ScriptKind.JS;
}

function parseErrors(file: string, text: string): ts.Diagnostic[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, scriptKindOf(file));
  return (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
}

export interface NewError {
  code: number;
  message: string;
  /** offset in the text with the insertion */
  start: number;
}

/** The errors of the file without the insertion, near the cut: computed once per cut. */
export class SyntaxBase {
  private readonly from: number; // start of the cut line
  private readonly lineAfter: number; // length of the suffix up to the end of the line after the cut line
  private readonly before = new Set<string>();
  private readonly beforeAt = new Set<number>();

  constructor(readonly file: string, readonly prefix: string, readonly suffix: string) {
    this.from = prefix.lastIndexOf('\n') + 1;
    // the suffix starts with the rest of the cut line; the window ends at the end of the line after it
    const nl1 = suffix.indexOf('\n');
    const nl2 = nl1 < 0 ? -1 : suffix.indexOf('\n', nl1 + 1);
    this.lineAfter = nl2 < 0 ? suffix.length : nl2;
    for (const d of parseErrors(file, prefix + suffix)) {
      if (d.start === undefined || !this.inWindow(d.start)) continue;
      this.before.add(`${d.code}@${d.start}`);
      this.beforeAt.add(d.start);
    }
  }

  private inWindow(p: number): boolean {
    return p >= this.from && p <= this.prefix.length + this.lineAfter;
  }

  /** The errors `ins` adds (lenient rule), and whether it adds one under the strict rule. */
  check(ins: string): { errors: NewError[]; strict: boolean } {
    const cut = this.prefix.length;
    const errors: NewError[] = [];
    let strict = false;
    for (const d of parseErrors(this.file, this.prefix + ins + this.suffix)) {
      if (d.start === undefined) continue;
      const p = d.start < cut ? d.start : d.start < cut + ins.length ? cut : d.start - ins.length;
      if (!this.inWindow(p) || this.before.has(`${d.code}@${p}`)) continue;
      strict = true;
      if (d.start >= cut + ins.length && this.beforeAt.has(p)) continue;
      errors.push({ code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, ' '), start: d.start });
    }
    return { errors, strict };
  }
}

export interface SafeLength {
  /** characters of the completion to keep: its whole length when it adds no error */
  keep: number;
  /** parses after the base one */
  tries: number;
  /** no clean length was found within the budget (see syntaxSafeLength) */
  unresolved: boolean;
}

/** How much of the completion to keep so that its insertion adds no syntax error: the whole when
 *  it is clean; else one of `cuts` (lengths that end at a token boundary) before the first new
 *  error inside the insertion, or shorter than the whole when the error is after it (the completion
 *  leaves an expression open that the next line cannot continue): the longest clean cut among those
 *  that close what the completion opened, else the longest clean one. At most `maxTries` parses and
 *  `budgetMs`; past them (unresolved), the longest cut before the first error inside, or the whole
 *  when the error is after it. */
export function syntaxSafeLength(base: SyntaxBase, completion: string, cuts: number[], budgetMs: number, maxTries = 12): SafeLength {
  const t0 = performance.now();
  const cut = base.prefix.length;
  const full = base.check(completion);
  if (!full.errors.length) return { keep: completion.length, tries: 1, unresolved: false };
  const inside = full.errors.filter((e) => e.start < cut + completion.length).map((e) => e.start - cut);
  const limit = inside.length ? Math.min(...inside) : completion.length - 1;
  // Longest first, but a cut that closes every bracket the completion opened (and no string) is
  // tried before one that leaves them open: the usual clean cut is a shorter balanced one
  // (`push(a, b,` -> `push`), and each try is a parse of the whole file.
  const balanced = balancedCuts(completion);
  const ordered = [...new Set(cuts)]
    .filter((c) => c >= 0 && c <= limit && c < completion.length)
    .sort((a, b) => Number(balanced.has(b)) - Number(balanced.has(a)) || b - a);
  let tries = 1;
  for (const c of ordered) {
    if (tries >= maxTries || performance.now() - t0 > budgetMs) break;
    tries++;
    if (!base.check(completion.slice(0, c)).errors.length) return { keep: c, tries, unresolved: false };
  }
  return { keep: inside.length ? (ordered[0] ?? 0) : completion.length, tries, unresolved: true };
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Lengths of `completion` at which no bracket it opened is still open and no string or template
 *  it started is unterminated (a scan that knows quotes and escapes, not comments or regexes). */
export function balancedCuts(completion: string): Set<number> {
  const out = new Set<number>();
  const open: string[] = [];
  let quote = '';
  for (let i = 0; i < completion.length; i++) {
    const ch = completion[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (OPENERS[ch]) open.push(OPENERS[ch]);
    else if (ch === open.at(-1)) open.pop();
    if (!quote && open.length === 0) out.add(i + 1);
  }
  return out;
}
