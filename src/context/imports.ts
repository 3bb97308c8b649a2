// Relative module specifiers of a TS/JS file: import/export-from, side-effect imports, require(),
// dynamic import(). Regex over comment-stripped text: no parser, so it also works on the
// half-typed code the editor has at completion time.

const FROM = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1/g;
const SIDE_EFFECT = /\bimport\s*(['"])([^'"\n]+)\1/g;
const CALL = /\b(?:require|import)\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Specifiers starting with './' or '../', in order of first appearance, deduplicated. */
export function relativeImports(source: string): string[] {
  const code = stripComments(source);
  const found: { at: number; spec: string }[] = [];
  for (const re of [FROM, SIDE_EFFECT, CALL]) {
    re.lastIndex = 0;
    for (let m = re.exec(code); m; m = re.exec(code)) found.push({ at: m.index, spec: m[2] });
  }
  found.sort((a, b) => a.at - b.at);
  const out: string[] = [];
  for (const { spec } of found) {
    if ((spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..') && !out.includes(spec)) out.push(spec);
  }
  return out;
}

/** Blank out // and /* comments (keeping offsets), leaving string literals intact. */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      const nl = src.indexOf('\n', i);
      const end = nl < 0 ? n : nl;
      out += ' '.repeat(end - i);
      i = end;
    } else if (c === '/' && d === '*') {
      const close = src.indexOf('*/', i + 2);
      const end = close < 0 ? n : close + 2;
      out += src.slice(i, end).replace(/[^\n]/g, ' ');
      i = end;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < n && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (src[j] === '\n' && c !== '`') break; // unterminated: stop at the line end
        j++;
      }
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
