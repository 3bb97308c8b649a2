// Workspace-relative paths are the currency of the context: '/'-separated, no leading './',
// never escaping the root. Everything that comes from outside (editor tabs, import specifiers,
// CLI flags) goes through here first.
import * as path from 'node:path';

/** Normalise to a '/'-separated path relative to the root, or undefined if it leaves the root. */
export function normalizeRel(p: string, workspaceRoot?: string): string | undefined {
  let s = p.replace(/\\/g, '/');
  if (path.isAbsolute(s) || /^[a-zA-Z]:\//.test(s)) {
    if (!workspaceRoot) return undefined;
    s = path.relative(workspaceRoot, p).replace(/\\/g, '/');
  }
  s = path.posix.normalize(s);
  if (s === '.' || s === '' || s === '..' || s.startsWith('../') || path.posix.isAbsolute(s)) return undefined;
  return s.replace(/^\.\//, '').replace(/\/$/, '');
}

export function dirOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function joinRel(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/** Ancestor directories from the root down: 'a/b/c.ts' → ['', 'a', 'a/b']. */
export function ancestorDirs(rel: string): string[] {
  const parts = rel.split('/');
  const out = [''];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** True if `child` (absolute, real) lies inside `root` (absolute, real). */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
