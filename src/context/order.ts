// Append-only placement. The engine reuses its KV cache up to the first token that differs from
// the previous context, so files already placed keep their relative order at the front while they
// are still wanted, and new files only ever go after them. Re-ranking (or shuffling) would make
// every completion re-prefill the whole repository context.

/** previous ∩ wanted in previous order, then the rest of wanted in its own (priority) order. */
export function stableOrder(previous: readonly string[] | undefined, wanted: readonly string[]): string[] {
  const want = new Set(wanted);
  const out: string[] = [];
  const placed = new Set<string>();
  for (const f of previous ?? []) {
    if (want.has(f) && !placed.has(f)) {
      out.push(f);
      placed.add(f);
    }
  }
  for (const f of wanted) {
    if (!placed.has(f)) {
      out.push(f);
      placed.add(f);
    }
  }
  return out;
}
