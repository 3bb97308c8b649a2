// Trigger points of the monitors: where the text ends in a member access (`receiver.` or
// `receiver.pa`) or at the start (or inside) of an identifier in an expression position
// (call arguments, after `=`, `return`, ...). Line-level scanning only: a trigger inside a string
// literal or a line comment does not count.
import { isIdentChar } from './names';

export interface Trigger {
  kind: 'member' | 'ident';
  /** offset in the text where the identifier begins (= text.length - typed.length) */
  start: number;
  /** identifier characters already present before the generation point */
  typed: string;
  /** member: the receiver's text when it is a plain name chain (`this._cache`, `ps`), else undefined */
  receiver?: string;
  /** ident: the keyword before it (`return`, `new`, ...), when a keyword opened the position */
  keyword?: string;
}

const EXPRESSION_OPENERS = new Set(['(', ',', '=', '[', '!', '?', ':', '&', '|', '+', '-', '*', '/', '%', '<', '>', '{']);
const CATCH_OPEN = /(?:^|[^\w$.])catch\s*\($/;
/** A `*` that is no multiplication: `export * from`, `import * as`, `function*`. */
const STAR_KEYWORD = /(?:^|[^\w$.])(?:export|import|function)\s*$/;
const EXPRESSION_KEYWORDS = new Set(['return', 'await', 'new', 'typeof', 'yield', 'case', 'in', 'of']);

/** Inside a string literal or after `//` on the line that ends the text. */
export function inStringOrComment(text: string): boolean {
  const lineStart = text.lastIndexOf('\n') + 1;
  let quote = '';
  for (let i = lineStart; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '/' && text[i + 1] === '/') return true;
    else if (ch === '#' && (i === lineStart || /\s/.test(text[i - 1])) && text.slice(lineStart, i).trim() === '') return true; // Python/shell comment line
  }
  return quote !== '';
}

export function triggerAt(text: string): Trigger | undefined {
  let start = text.length;
  while (start > 0 && isIdentChar(text[start - 1])) start--;
  const typed = text.slice(start);
  if (/^[0-9]/.test(typed)) return undefined;
  if (inStringOrComment(text)) return undefined;
  const before = text[start - 1];
  if (before === '.') {
    const dot = start - 1;
    const prev = text[dot - 1];
    if (prev === '.' || prev === undefined) return undefined; // spread `...x`
    // `opts?.`: the receiver is `opts`
    const end = prev === '?' ? dot - 1 : dot;
    let r = end;
    while (r > 0 && (isIdentChar(text[r - 1]) || text[r - 1] === '.')) r--;
    const chain = text.slice(r, end);
    const plain = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(chain);
    if (!plain && prev !== ')' && prev !== ']' && prev !== '?') {
      if (/^[0-9]+$/.test(chain)) return undefined; // a number: `1.5`
    }
    return { kind: 'member', start, typed, receiver: plain ? chain : undefined };
  }
  // identifier in an expression position
  let p = start;
  while (p > 0 && (text[p - 1] === ' ' || text[p - 1] === '\t')) p--;
  const ch = text[p - 1];
  if (ch !== undefined && EXPRESSION_OPENERS.has(ch)) {
    if (ch === '>' && text[p - 2] === '=') return { kind: 'ident', start, typed }; // `=>`
    if ((ch === '/' && text[p - 2] === '/') || (ch === '*' && text[p - 2] === '/')) return undefined;
    if (ch === '(' && CATCH_OPEN.test(text.slice(Math.max(0, p - 16), p))) return undefined; // `catch (e`: the binding is a new name
    if (ch === '*' && STAR_KEYWORD.test(text.slice(Math.max(0, p - 16), p - 1))) return undefined; // `export * from`: a keyword comes
    return { kind: 'ident', start, typed };
  }
  let w = p;
  while (w > 0 && isIdentChar(text[w - 1])) w--;
  const keyword = text.slice(w, p);
  if (w < p && p < start && EXPRESSION_KEYWORDS.has(keyword)) return { kind: 'ident', start, typed, keyword };
  return undefined;
}
