// Single-line or multi-line request? Multi-line only where a block is likely to follow: an empty
// line, or right after an opening bracket or colon. Elsewhere the user is finishing a line.

// Closing brackets, quotes and separators right of the cursor are usually auto-inserted pairs;
// they do not make the rest of the line "text".
const CLOSING_ONLY = /^[\s)\]}>'"`;,]*$/;
const HASH_COMMENT = new Set(['python', 'ruby', 'shellscript', 'yaml', 'perl', 'r', 'makefile', 'dockerfile', 'toml', 'coffeescript', 'powershell']);
const DASH_COMMENT = new Set(['sql', 'lua', 'haskell']);

export function decideMultiline(prefix: string, suffix: string, languageId = ''): boolean {
  const linePrefix = prefix.slice(prefix.lastIndexOf('\n') + 1);
  const nl = suffix.indexOf('\n');
  const rest = nl < 0 ? suffix : suffix.slice(0, nl);
  if (!CLOSING_ONLY.test(rest)) return false;
  if (inLineComment(linePrefix, languageId)) return false;
  const trimmed = linePrefix.trimEnd();
  if (trimmed === '') return true; // an empty line (or only indentation)
  if (/\/\*\*$/.test(trimmed)) return true; // a doc comment is opening
  return /[{([:]$/.test(trimmed);
}

/** Is the end of this line prefix inside a line comment (quotes respected)? */
export function inLineComment(linePrefix: string, languageId = ''): boolean {
  const hash = HASH_COMMENT.has(languageId);
  const dash = DASH_COMMENT.has(languageId);
  let quote = '';
  for (let i = 0; i < linePrefix.length; i++) {
    const c = linePrefix[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (hash ? c === '#' : dash ? c === '-' && linePrefix[i + 1] === '-' : c === '/' && linePrefix[i + 1] === '/') return true;
  }
  return false;
}
