// A FileSystemLike that remembers what it read for a while. The extension assembles the same
// context several times within seconds (the focus warmup, then the first completions in that file);
// in an extension host that VS Code keeps busy, each awaited read waits its turn in the event loop,
// and an assembly makes hundreds of them. Remembered answers resolve without the event loop.
// The owner forgets a path when it changes (the extension's file watcher and saves); `ttlMs` bounds
// what a change the watcher does not see can leave stale.
import * as path from 'node:path';
import type { FileSystemLike } from './types';

export interface CachedFsOptions {
  /** How long an answer is reused. */
  ttlMs: number;
  /** Remembered answers at most (oldest dropped first). */
  maxEntries: number;
  /** Bytes of remembered file contents at most (oldest dropped first). */
  maxBytes: number;
  now?: () => number;
}

type Op = 'stat' | 'readFile' | 'realpath' | 'readdir';

interface Entry {
  at: number;
  value: Promise<unknown>;
  bytes: number;
}

export const CACHED_FS_DEFAULTS: CachedFsOptions = { ttlMs: 30_000, maxEntries: 20_000, maxBytes: 64 * 1024 * 1024 };

export class CachedFs implements FileSystemLike {
  private readonly entries = new Map<string, Entry>(); // `${op}\0${abs}`, oldest first
  private bytes = 0;
  private changed = new Set<string>(); // paths forgotten since the last sweep
  private readonly now: () => number;
  /** Answers served from memory (tests read it). */
  hits = 0;

  constructor(
    private readonly inner: FileSystemLike,
    private readonly o: CachedFsOptions = CACHED_FS_DEFAULTS,
  ) {
    this.now = o.now ?? (() => Date.now());
  }

  stat(abs: string): ReturnType<FileSystemLike['stat']> {
    return this.get('stat', abs, () => this.inner.stat(abs));
  }

  readFile(abs: string): Promise<Uint8Array> {
    return this.get('readFile', abs, () => this.inner.readFile(abs));
  }

  realpath(abs: string): Promise<string> {
    return this.get('realpath', abs, () => this.inner.realpath(abs));
  }

  readdir(abs: string): ReturnType<FileSystemLike['readdir']> {
    return this.get('readdir', abs, () => this.inner.readdir(abs));
  }

  /** `abs` changed, appeared or went away: its answers and its folder's listing are read again, and
   *  so is everything under it (a renamed or deleted folder). Applied in one sweep at the next read,
   *  so a burst of file events (a branch switch) costs one pass. */
  forget(abs: string): void {
    this.changed.add(path.resolve(abs));
  }

  clear(): void {
    this.changed.clear();
    this.entries.clear();
    this.bytes = 0;
  }

  private get<T>(op: Op, abs: string, read: () => Promise<T>): Promise<T> {
    if (this.changed.size) this.sweep();
    const key = `${op}\0${path.resolve(abs)}`;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at <= this.o.ttlMs) {
      this.hits++;
      return hit.value as Promise<T>;
    }
    if (hit) this.drop(key);
    const value = read();
    const entry: Entry = { at: now, value, bytes: 0 };
    this.entries.set(key, entry);
    value.then(
      (v) => {
        if (op !== 'readFile' || this.entries.get(key) !== entry) return;
        entry.bytes = (v as Uint8Array).byteLength;
        this.bytes += entry.bytes;
        this.trim();
      },
      // a failed read is remembered like a successful one (a missing file stays missing until the
      // watcher says otherwise), except errors that may pass: too many open files, interrupted
      (e: NodeJS.ErrnoException) => {
        if (e?.code === 'EMFILE' || e?.code === 'ENFILE' || e?.code === 'EAGAIN' || e?.code === 'EINTR') {
          if (this.entries.get(key) === entry) this.drop(key);
        }
      },
    );
    this.trim();
    return value;
  }

  private sweep(): void {
    const changed = this.changed;
    this.changed = new Set();
    const parents = new Set([...changed].map((p) => path.dirname(p)));
    for (const key of [...this.entries.keys()]) {
      const p = key.slice(key.indexOf('\0') + 1);
      if (key.startsWith('readdir\0') && parents.has(p)) {
        this.drop(key);
        continue;
      }
      for (let a = p; ; a = path.dirname(a)) {
        if (changed.has(a)) {
          this.drop(key);
          break;
        }
        if (path.dirname(a) === a) break;
      }
    }
  }

  private trim(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.o.maxEntries && this.bytes <= this.o.maxBytes) break;
      this.drop(key);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.bytes -= e.bytes;
    this.entries.delete(key);
  }
}
