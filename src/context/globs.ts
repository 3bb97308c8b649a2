// VS Code glob patterns (files.exclude) → matcher over workspace-relative paths, by picomatch.
// VS Code's glob dialect: patterns are relative to the workspace folder (`*.log` matches at the
// root only, `**/*.log` anywhere), `*` and `?` stay inside one path segment, `**` spans any number
// of segments, `{a,b}` alternates, `[abc]`/`[!abc]` are character classes, and wildcards match
// dotfiles too. It has no extglobs (`+(a|b)`), no regex groups and no leading-`!` negation, so
// those characters match literally here (`app/(site)/**` is a folder named `(site)`). A pattern
// that matches a folder excludes what is in it, as in VS Code (`**/build` hides build/x.js).
import picomatch from 'picomatch/posix';
import { ancestorDirs } from './paths';

export interface GlobOptions {
  /** Default: true on Windows and macOS, whose file systems ignore case (so `Build/` is `build/`). */
  ignoreCase?: boolean;
}

const caseInsensitiveFs = process.platform === 'win32' || process.platform === 'darwin';

function picomatchOptions(opts: GlobOptions): picomatch.PicomatchOptions {
  // posix: picomatch reads `[!abc]` as a negated class only in its POSIX bracket mode.
  return { dot: true, noextglob: true, nonegate: true, posix: true, nocase: opts.ignoreCase ?? caseInsensitiveFs };
}

/** Settings written on Windows may use `\` as the separator; a leading `./` or `/` means the folder
 *  root; picomatch would read `(a|b)` as a regex group, so those characters are escaped. */
function normalizeGlob(glob: string): string {
  return glob
    .trim()
    .replace(/\\/g, '/')
    .replace(/^\.?\//, '')
    .replace(/[()|]/g, '\\$&');
}

export function globToRegExp(glob: string, opts: GlobOptions = {}): RegExp {
  return picomatch.makeRe(normalizeGlob(glob), picomatchOptions(opts));
}

/** Compile patterns once; the matcher tests the path and each folder above it. */
export function compileGlobs(globs: readonly string[] | undefined, opts: GlobOptions = {}): (rel: string) => boolean {
  const patterns = (globs ?? []).filter((g) => g.trim() !== '').map(normalizeGlob);
  if (patterns.length === 0) return () => false;
  const isMatch = picomatch(patterns, picomatchOptions(opts));
  return (rel) => ancestorDirs(rel).slice(1).some((dir) => isMatch(dir)) || isMatch(rel);
}
