// The syntax cut of a finished completion (TS/JS): the longest part of it, cut at a token
// boundary, that adds no parse error (syntax-check.ts, run in the language-service worker, parse only).
import type { ContextPayload } from '../../shared/protocol';
import { TS_EXTENSIONS } from './ts-protocol';
import type { TsService } from './ts-service';

const SYNTAX_TIMEOUT_MS = 60;

/** How much of the file's text around the placed prefix and suffix the parse reads, at most, on
 *  each side: it bounds the cost of a parse per candidate cut. */
export const SYNTAX_AROUND_CHARS = 48 * 1024;

/** The text the syntax check parses around the cursor: the placed prefix and suffix with the file's
 *  text the context caps cut off (`head`, `tail`), up to SYNTAX_AROUND_CHARS more on each side; the
 *  head starts at a line with no indentation (a declaration at the top level, as far as
 *  indentation tells). Without the head a prefix that starts inside a class reads `public m() {`
 *  as a statement, and every completion of a member's header adds an error. */
export function parsedAround(c: { prefix: string; suffix: string; head?: string; tail?: string }): { prefix: string; suffix: string } {
  let head = c.head ?? '';
  if (head.length > SYNTAX_AROUND_CHARS) {
    const from = head.length - SYNTAX_AROUND_CHARS;
    const m = /\n(?=[^\s}\])])/g;
    m.lastIndex = from;
    const at = m.exec(head);
    head = at ? head.slice(at.index + 1) : '';
  }
  return { prefix: head + c.prefix, suffix: c.suffix + (c.tail ?? '').slice(0, SYNTAX_AROUND_CHARS) };
}

export interface SyntaxCut {
  /** the kept part */
  text: string;
  /** its length in the shown text */
  cutAt: number;
  removed: string;
}

/** What a completion inserts: single-line, its first line; multi-line, all of it. */
export function shownText(text: string, multiline: boolean): string {
  const nl = text.indexOf('\n');
  return multiline || nl < 0 ? text : text.slice(0, nl);
}

/** Single-line: the first line is what is inserted and checked. Undefined when nothing is cut or
 *  the service is unavailable. `out` are the completion's tokens, `decode` the tokenizer's. */
export async function syntaxCut(ts: TsService | undefined, decode: (ids: number[]) => string, ctx: ContextPayload, text: string, out: number[], multiline: boolean): Promise<SyntaxCut | undefined> {
  if (!text || !ts?.ready || !TS_EXTENSIONS.test(ctx.current.file)) return undefined;
  const shown = shownText(text, multiline);
  const cuts: number[] = [];
  for (let j = 1; j < out.length; j++) {
    const t = decode(out.slice(0, j));
    if (t.length >= shown.length) break;
    if (shown.startsWith(t)) cuts.push(t.replace(/[ \t]+$/, '').length);
  }
  const { prefix, suffix } = parsedAround(ctx.current);
  const keep = await ts.syntaxSafeLength(ctx.current.file, prefix, shown, suffix, cuts, SYNTAX_TIMEOUT_MS);
  if (keep === undefined || keep >= shown.length) return undefined;
  return { text: shown.slice(0, keep).replace(/[ \t]+$/, ''), cutAt: keep, removed: shown.slice(keep) };
}

