// The LM's whole-name log-probability of the best-ranked names at a trigger point, read by running
// their tokens after the cache and cutting the cache back. The ranking alone sees the text around
// the name; the model scores the name itself in its place (`Math.` + `floor` inside `_floor`), and
// where a name is several tokens its first token says little (`_a`, `_b`, `_c` share `_`). The names
// share the steps of their common token prefixes (a trie walk), so the cost is one decode step per
// distinct token prefix that is not a whole name.

export interface LookaheadDeps {
  /** one decode step of `ids` after the cache; appends them to it */
  step(ids: number[]): Promise<{ logits: Float32Array }>;
  /** tokens in the cache now */
  cacheLength(): number;
  truncate(n: number): void;
  cancelled(): boolean;
}

/** log-sum-exp of the finite logits (a padded row is -Infinity) */
function logSumExp(x: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  if (max === -Infinity) return max;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

/** Sum of log-probabilities of each token sequence after the cache, whose next-token logits are
 *  `logits`. On return the cache holds what it held before. A sequence left unscored (cancelled)
 *  is missing from the result. */
export async function scoreSequences(d: LookaheadDeps, seqs: ReadonlyMap<string, readonly number[]>, logits: Float32Array): Promise<Map<string, number>> {
  const base = d.cacheLength();
  const out = new Map<string, number>();
  const entries = [...seqs].filter(([, ids]) => ids.length > 0);
  const walk = async (group: [string, readonly number[]][], depth: number, at: Float32Array, acc: number): Promise<void> => {
    const lse = logSumExp(at);
    const byToken = new Map<number, [string, readonly number[]][]>();
    for (const e of group) {
      const t = e[1][depth];
      if (!byToken.has(t)) byToken.set(t, []);
      byToken.get(t)!.push(e);
    }
    for (const [t, sub] of byToken) {
      if (d.cancelled()) return;
      const lp = acc + (at[t] ?? -Infinity) - lse;
      const rest = sub.filter(([, ids]) => ids.length > depth + 1);
      for (const [name, ids] of sub) if (ids.length === depth + 1) out.set(name, lp);
      if (!rest.length) continue;
      if (lp === -Infinity) {
        for (const [name] of rest) out.set(name, -Infinity);
        continue;
      }
      d.truncate(base + depth);
      const r = await d.step([t]);
      await walk(rest, depth + 1, r.logits, lp);
    }
  };
  try {
    if (entries.length) await walk(entries, 0, logits, 0);
  } finally {
    d.truncate(base);
  }
  return out;
}
