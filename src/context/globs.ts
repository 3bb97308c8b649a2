// VS Code glob patterns (files.exclude) → matcher over workspace-relative paths.
// Supports **, *, ?, {a,b}, [abc]/[!abc]. A pattern that matches a folder excludes what is in it,
// as in VS Code (`**/build` hides build/x.js).
import { ancestorDirs } from './paths';

export function globToRegExp(glob: string): RegExp {
  const g = glob.replace(/\\/g, '/').replace(/^\.?\//, '');
  return new RegExp(`^${translate(g)}$`);
}

function translate(g: string): string {
  let out = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*') {
      if (g[i + 1] === '*') {
        // '**/' matches zero or more folders; a bare '**' matches anything.
        if (g[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '{') {
      const close = matchingBrace(g, i);
      if (close < 0) out += '\\{';
      else {
        out += `(?:${splitTopLevel(g.slice(i + 1, close)).map(translate).join('|')})`;
        i = close;
      }
    } else if (c === '[') {
      const close = g.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = g.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else out += c.replace(/[.+^$()|\\\]]/g, '\\$&');
  }
  return out;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}') depth--;
    else if (s[i] === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** Compile patterns once; the matcher tests the path and each folder above it. */
export function compileGlobs(globs: readonly string[] | undefined): (rel: string) => boolean {
  const res = (globs ?? []).filter((g) => g.trim() !== '').map(globToRegExp);
  if (res.length === 0) return () => false;
  return (rel) => {
    const paths = [...ancestorDirs(rel).slice(1), rel];
    return paths.some((p) => res.some((r) => r.test(p)));
  };
}
