// Find the brackets that are code: outside string literals and comments. Good enough for
// post-processing (no regex literals, no ${} nesting), and it never throws on half-written code.

export interface BracketEvent {
  index: number;
  ch: string; // one of ()[]{}
}

const HASH_COMMENT = new Set(['python', 'ruby', 'shellscript', 'yaml', 'perl', 'r', 'makefile', 'dockerfile', 'toml', 'coffeescript', 'powershell']);
const TRIPLE_QUOTES = new Set(['python']);

export function scanBrackets(text: string, languageId = ''): BracketEvent[] {
  const hash = HASH_COMMENT.has(languageId);
  const slashes = !hash;
  const triple = TRIPLE_QUOTES.has(languageId);
  const out: BracketEvent[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i];
    if ((slashes && c === '/' && text[i + 1] === '/') || (hash && c === '#')) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl;
    } else if (slashes && c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (triple && (text.startsWith('"""', i) || text.startsWith("'''", i))) {
      const end = text.indexOf(text.slice(i, i + 3), i + 3);
      i = end < 0 ? n : end + 3;
    } else if (c === '"' || c === "'" || c === '`') {
      i = endOfString(text, i, c);
    } else {
      if ('()[]{}'.includes(c)) out.push({ index: i, ch: c });
      i++;
    }
  }
  return out;
}

/** Index just past the closing quote; ordinary strings also end at a line break (unterminated). */
function endOfString(text: string, start: number, quote: string): number {
  let j = start + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === quote) return j + 1;
    else if (c === '\n' && quote !== '`') return j;
    else j++;
  }
  return text.length;
}
