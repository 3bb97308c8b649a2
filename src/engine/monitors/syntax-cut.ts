// The syntax cut of a finished completion (TS/JS): the longest part of it, cut at a token
// boundary, that adds no parse error (syntax-check.ts, run in the language-service worker, parse only).
import type { ContextPayload } from '../../shared/protocol';
import { TS_EXTENSIONS } from './ts-protocol';
import type { TsService } from './ts-service';

const SYNTAX_TIMEOUT_MS = 60;

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
  // the placed prefix and suffix, not the whole file: they bound the cost of the parse per candidate cut
  const keep = await ts.syntaxSafeLength(ctx.current.file, ctx.current.prefix, shown, ctx.current.suffix, cuts, SYNTAX_TIMEOUT_MS);
  if (keep === undefined || keep >= shown.length) return undefined;
  return { text: shown.slice(0, keep).replace(/[ \t]+$/, ''), cutAt: keep, removed: shown.slice(keep) };
}

