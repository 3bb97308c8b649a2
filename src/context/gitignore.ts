// .gitignore matching (root and nested) for individual candidate paths. We never walk the tree:
// for a path we read only the .gitignore files of its ancestor folders, and parsed files are cached
// per folder across assemblies (revalidated by mtime/size, one stat per folder per assembly).
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { ancestorDirs, dirOf } from './paths';
import type { FileSystemLike } from './types';

interface CacheEntry {
  mtimeMs: number;
  size: number;
  ig: Ignore;
}

const MAX_CACHED = 2000;

/** Parsed .gitignore files keyed by absolute path; shared by assemblies of any workspace. */
export class GitignoreCache {
  private entries = new Map<string, CacheEntry>();
  parses = 0; // for tests: how often a file was actually parsed

  async load(fs: FileSystemLike, absFile: string): Promise<Ignore | undefined> {
    let st;
    try {
      st = await fs.stat(absFile);
      if (!st.isFile()) return undefined;
    } catch {
      this.entries.delete(absFile);
      return undefined;
    }
    const hit = this.entries.get(absFile);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.ig;
    let ig: Ignore;
    try {
      const text = new TextDecoder().decode(await fs.readFile(absFile));
      ig = ignore().add(text);
      this.parses++;
    } catch {
      return undefined; // an unreadable or malformed .gitignore ignores nothing
    }
    if (this.entries.size >= MAX_CACHED) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(absFile, { mtimeMs: st.mtimeMs, size: st.size, ig });
    return ig;
  }
}

export const defaultGitignoreCache = new GitignoreCache();

/** Answers "is this path ignored?" for one assembly; memoises per folder within the call. */
export class GitignoreMatcher {
  private perDir = new Map<string, Promise<Ignore | undefined>>();
  private dirIgnored = new Map<string, Promise<boolean>>();

  constructor(
    private readonly root: string,
    private readonly fs: FileSystemLike,
    private readonly cache: GitignoreCache = defaultGitignoreCache,
  ) {}

  async isIgnored(rel: string): Promise<boolean> {
    // Git does not look inside an ignored folder, so a deeper `!rule` cannot bring a file back.
    const dirs = ancestorDirs(rel);
    for (const d of dirs.slice(1)) if (await this.isDirIgnored(d)) return true;
    return this.decide(rel, dirs);
  }

  private isDirIgnored(dir: string): Promise<boolean> {
    let p = this.dirIgnored.get(dir);
    if (!p) {
      p = (async () => {
        const parent = dirOf(dir);
        if (parent && (await this.isDirIgnored(parent))) return true;
        return this.decide(`${dir}/`, ancestorDirs(dir));
      })();
      this.dirIgnored.set(dir, p);
    }
    return p;
  }

  /** Apply the .gitignore of each level, root first; the deepest rule that says something wins. */
  private async decide(rel: string, levels: string[]): Promise<boolean> {
    let ignored = false;
    for (const level of levels) {
      const ig = await this.rulesOf(level);
      if (!ig) continue;
      const sub = level ? rel.slice(level.length + 1) : rel;
      if (!sub || sub === '/') continue;
      try {
        const t = ig.test(sub);
        if (t.ignored) ignored = true;
        else if (t.unignored) ignored = false;
      } catch {
        // `ignore` rejects odd paths; treat as no opinion.
      }
    }
    return ignored;
  }

  private rulesOf(dir: string): Promise<Ignore | undefined> {
    let p = this.perDir.get(dir);
    if (!p) {
      p = this.cache.load(this.fs, path.join(this.root, dir, '.gitignore'));
      this.perDir.set(dir, p);
    }
    return p;
  }
}
