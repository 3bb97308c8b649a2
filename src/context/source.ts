// Where candidate files come from for one assembly: unsaved editor contents first, then disk
// (only when the workspace is trusted). `admit` is the single gate every file passes before it
// can enter the context; it never throws.
import * as path from 'node:path';
import { decodeText, MAX_FILE_BYTES, pathSkipReason, textSkipReason } from './exclusions';
import type { GitignoreMatcher } from './gitignore';
import { dirOf, isInside, joinRel } from './paths';
import type { FileSystemLike, SkipReason } from './types';

export type Admitted = { ok: true; text: string } | { ok: false; reason: SkipReason };

export interface SourceOptions {
  root: string;
  fs: FileSystemLike;
  trusted: boolean;
  docs: ReadonlyMap<string, string>; // workspace-relative path → editor text
  isExcluded: (rel: string) => boolean; // files.exclude
  gitignore: GitignoreMatcher;
}

export class WorkspaceSource {
  private admitted = new Map<string, Promise<Admitted>>();
  private existing = new Map<string, Promise<boolean>>();
  private realRoot?: Promise<string | undefined>;

  constructor(private readonly o: SourceOptions) {}

  /** Does a regular file exist at rel? Used by import resolution; reads no content. */
  exists(rel: string): Promise<boolean> {
    let p = this.existing.get(rel);
    if (!p) {
      p = this.o.docs.has(rel)
        ? Promise.resolve(true)
        : !this.o.trusted
          ? Promise.resolve(false)
          : this.o.fs.stat(path.join(this.o.root, rel)).then((s) => s.isFile(), () => false);
      this.existing.set(rel, p);
    }
    return p;
  }

  /** Files directly in a folder (one readdir; never recursive). */
  async listFolder(dir: string): Promise<string[]> {
    const out = new Set<string>();
    for (const rel of this.o.docs.keys()) if (dirOf(rel) === dir) out.add(rel);
    if (this.o.trusted) {
      try {
        for (const e of await this.o.fs.readdir(path.join(this.o.root, dir))) {
          if (e.isFile() || e.isSymbolicLink()) out.add(joinRel(dir, e.name));
        }
      } catch {
        // unreadable folder: no same-folder candidates
      }
    }
    return [...out];
  }

  admit(rel: string): Promise<Admitted> {
    let p = this.admitted.get(rel);
    if (!p) {
      p = this.check(rel).catch((): Admitted => ({ ok: false, reason: 'unreadable' }));
      this.admitted.set(rel, p);
    }
    return p;
  }

  private async check(rel: string): Promise<Admitted> {
    const byPath = await this.pathReason(rel);
    if (byPath) return { ok: false, reason: byPath };

    const doc = this.o.docs.get(rel);
    if (doc !== undefined) return judgeText(doc);
    if (!this.o.trusted) return { ok: false, reason: 'untrusted' };

    const root = await this.getRealRoot();
    if (!root) return { ok: false, reason: 'unreadable' };
    const real = await this.o.fs.realpath(path.join(this.o.root, rel));
    if (!isInside(root, real)) return { ok: false, reason: 'outside-workspace' };
    // A symlink inside the workspace may point at a secret or ignored file: judge the target too.
    const realRel = path.relative(root, real).split(path.sep).join('/');
    if (realRel !== rel) {
      const byTarget = await this.pathReason(realRel);
      if (byTarget) return { ok: false, reason: byTarget };
    }
    const st = await this.o.fs.stat(real);
    if (!st.isFile()) return { ok: false, reason: 'unreadable' };
    if (st.size > MAX_FILE_BYTES) return { ok: false, reason: 'too-large' }; // before reading it
    const decoded = decodeText(await this.o.fs.readFile(real));
    if ('reason' in decoded) return { ok: false, reason: decoded.reason };
    return judgeText(decoded.text);
  }

  private async pathReason(rel: string): Promise<SkipReason | undefined> {
    const r = pathSkipReason(rel);
    if (r) return r;
    if (this.o.isExcluded(rel)) return 'excluded';
    if (await this.o.gitignore.isIgnored(rel)) return 'gitignored';
    return undefined;
  }

  private getRealRoot(): Promise<string | undefined> {
    if (!this.realRoot) this.realRoot = this.o.fs.realpath(this.o.root).catch(() => undefined);
    return this.realRoot;
  }
}

function judgeText(text: string): Admitted {
  const reason = textSkipReason(text);
  return reason ? { ok: false, reason } : { ok: true, text };
}
