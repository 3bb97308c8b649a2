// Which vocabulary tokens keep a partly generated identifier on the way to a valid name.
// One name is usually several BPE tokens, and a token may run past the end of a name
// (`length)`): a token is allowed when the identifier typed so far plus the token's text is a
// prefix of some name, or completes a name and continues with a non-identifier character.

const IDENT = /[A-Za-z0-9_$]/;

export function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && IDENT.test(ch);
}

/** Length of the run of identifier characters at the start of `s`. */
function identRun(s: string): number {
  let k = 0;
  while (k < s.length && isIdentChar(s[k])) k++;
  return k;
}

export class NameSet {
  private readonly sorted: string[];
  private readonly set: Set<string>;

  constructor(names: Iterable<string>) {
    this.set = new Set([...names].filter((n) => n.length > 0 && identRun(n) === n.length));
    this.sorted = [...this.set].sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  has(name: string): boolean {
    return this.set.has(name);
  }

  /** Index of the first sorted name >= `s`. */
  private lowerBound(s: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Some name starts with `s` (binary search over the sorted names). */
  hasPrefix(s: string): boolean {
    const lo = this.lowerBound(s);
    return lo < this.sorted.length && this.sorted[lo].startsWith(s);
  }

  /** The highest `score` among the names a step may lead to with `typed + piece`: the names that
   *  start with it, or the name it completes before a non-identifier character; -Infinity if none.
   *  A binary search and a scan of the matching run only: this runs for every vocabulary token. */
  bestScore(typed: string, piece: string, score: ReadonlyMap<string, number>): number {
    const s = typed + piece;
    const k = identRun(s);
    if (k < typed.length) return -Infinity;
    if (k < s.length) return k > 0 && this.set.has(s.slice(0, k)) ? score.get(s.slice(0, k)) ?? -Infinity : -Infinity;
    const lo = this.lowerBound(s);
    let best = -Infinity;
    for (let i = lo; i < this.sorted.length && this.sorted[i].startsWith(s); i++) best = Math.max(best, score.get(this.sorted[i]) ?? -Infinity);
    return best;
  }

  /** The names that start with `prefix`. */
  withPrefix(prefix: string): string[] {
    return this.sorted.filter((n) => n.startsWith(prefix));
  }

  /** Whether `typed + piece` keeps the identifier valid: still a prefix of a name, or a whole
   *  name followed by a non-identifier character. `piece` is a token's decoded text. */
  allows(typed: string, piece: string): boolean {
    const s = typed + piece;
    const k = identRun(s);
    if (k < typed.length) return false; // typed itself is not an identifier
    if (k === s.length) return this.hasPrefix(s);
    return k > 0 && this.set.has(s.slice(0, k));
  }

  /** The name a step would commit to when the identifier ends inside `typed + piece`, else undefined. */
  completedBy(typed: string, piece: string): string | undefined {
    const s = typed + piece;
    const k = identRun(s);
    return k < s.length && k > 0 && this.set.has(s.slice(0, k)) ? s.slice(0, k) : undefined;
  }
}
