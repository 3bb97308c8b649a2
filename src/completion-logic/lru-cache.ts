// Recent completions keyed by a hash of the text around the cursor, so coming back to the same
// spot (undo, re-typing) shows the old suggestion without running the model.
import { createHash } from 'node:crypto';

export class LruCache<V> {
  private map = new Map<string, V>();

  constructor(readonly capacity = 100) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key); // re-insert: Map iteration order is our recency order
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

// Only the text near the cursor decides the completion; hashing all of a large file on every
// keystroke (and up to MAX_WALK_BACK times per lookup) would cost more than it saves. Callers may
// pass a tail of the prefix instead of all of it, as long as it is at least
// PREFIX_WINDOW + MAX_WALK_BACK chars (or the whole prefix), and a head of the suffix of at least
// SUFFIX_WINDOW chars.
export const PREFIX_WINDOW = 4000;
export const SUFFIX_WINDOW = 1000;
export const MAX_WALK_BACK = 64;

export function completionKey(documentKey: string, prefix: string, suffix: string): string {
  return createHash('sha1')
    .update(documentKey)
    .update('\0')
    .update(prefix.slice(-PREFIX_WINDOW))
    .update('\0')
    .update(suffix.slice(0, SUFFIX_WINDOW))
    .digest('hex');
}

export class CompletionCache {
  private lru: LruCache<string>;

  constructor(capacity = 100) {
    this.lru = new LruCache(capacity);
  }

  set(documentKey: string, prefix: string, suffix: string, completion: string): void {
    if (completion) this.lru.set(completionKey(documentKey, prefix, suffix), completion);
  }

  get(documentKey: string, prefix: string, suffix: string): string | undefined {
    return this.lru.get(completionKey(documentKey, prefix, suffix));
  }

  /**
   * A cached completion for this spot, or for a spot up to MAX_WALK_BACK chars back whose
   * completion starts with what was typed since (then the rest of it).
   */
  find(documentKey: string, prefix: string, suffix: string, maxWalkBack = MAX_WALK_BACK): string | undefined {
    for (let k = 0; k <= Math.min(maxWalkBack, prefix.length); k++) {
      const hit = this.lru.get(completionKey(documentKey, prefix.slice(0, prefix.length - k), suffix));
      if (hit === undefined) continue;
      const typed = prefix.slice(prefix.length - k);
      if (hit.startsWith(typed) && hit.length > k) return hit.slice(k);
    }
    return undefined;
  }

  get size(): number {
    return this.lru.size;
  }
}
