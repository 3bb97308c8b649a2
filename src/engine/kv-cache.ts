// The resident context: token ids plus per-layer K/V rows, head-major [Hkv][capacity][dim]: Float32Arrays,
// or with the compact cache (config.kv_cache "int8", docs/graph-contract.md) K as Uint8Array (value + 128)
// and V as Int8Array with each row's step in [Hkv][capacity] Float32Arrays; int8 importance keys stored
// transposed, [Hkv][E][capacity] Int8Arrays, and 64 x each importance key's dim sum, [Hkv][capacity]
// Int32Arrays; all are fed to ONNX Runtime zero-copy. Appending is O(1) with spare capacity; truncation
// just forgets the tail (the graphs mask slots >= length).
import type { ModelConfig } from './model';

/** K rows as the graphs read them: float32, or u8 (int8 + 128) in the compact cache. */
export type KRows = Float32Array | Uint8Array;
/** V rows: float32, or int8 in the compact cache. */
export type VRows = Float32Array | Int8Array;

/** The cache's form: the model's `config.kv_cache` ("int8": the compact cache; absent or "f32": float32). */
export function kvForm(c: ModelConfig): 'f32' | 'int8' {
  return c.kv_cache === 'int8' ? 'int8' : 'f32';
}

/** How many positions' logits the cache keeps (16 KB each at a 4k vocabulary): of decode steps,
 *  and, apart from those, of request ends (prefills), which a long completion must not push out. */
const MAX_MARKS = 32;
const MAX_PINNED = 4;

export class KvCache {
  ids: number[] = [];
  cap = 0;
  readonly form: 'f32' | 'int8';
  k: KRows[] = [];
  v: VRows[] = [];
  /** Compact cache: each K / V row's step, [Hkv][capacity] (empty arrays for float32). */
  ks: Float32Array[] = [];
  vs: Float32Array[] = [];
  ik: Int8Array[] = []; // index 0 unused (layer 0 attends densely)
  ikSum: Int32Array[] = []; // index 0 unused
  /** The token id of every slot, capacity-long (slots >= length are stale): fed to graphs with
   *  pointer heads (`ctx_ids`), which copy the ids of the slots they attend to. */
  idBuf = new BigInt64Array(0);

  constructor(private readonly c: ModelConfig, initialCapacity = 512) {
    this.form = kvForm(c);
    this.grow(initialCapacity);
  }

  get length(): number {
    return this.ids.length;
  }

  /** Bytes of K/V per token of capacity: 4 per value (float32), or 1 per value + a 4-byte step per row (int8). */
  get kvBytesPerToken(): number {
    const c = this.c;
    const rows = 2 * c.n_layers * c.n_kv_heads;
    return this.form === 'int8' ? rows * (c.head_dim + 4) : rows * c.head_dim * 4;
  }

  /** Bytes of cache memory per token of capacity: K/V, importance keys and their sums, the token id. */
  get bytesPerToken(): number {
    const c = this.c;
    return this.kvBytesPerToken + (c.n_layers - 1) * c.n_kv_heads * (c.imp_dim + 4) + 8;
  }

  get bytes(): number {
    return this.cap * this.bytesPerToken;
  }

  /** Capacity (tokens) that growth stops at instead of overshooting it by a quarter; 0 = none.
   *  The engine sets it from maxContextTokens. A request that needs more grows in 256-token steps. */
  limit = 0;

  /** Makes room for `n` tokens. Capacity is kept near the need: the graphs compute over all of it. */
  ensure(n: number): void {
    if (n <= this.cap) return;
    let next = Math.max(n, Math.ceil((this.cap * 1.25) / 256) * 256);
    if (this.limit > 0 && next > this.limit) next = n <= this.limit ? this.limit : Math.ceil(n / 256) * 256;
    this.grow(next);
  }

  /** Keeps at most `n` tokens and releases capacity beyond `capacity` (a lowered memory cap). */
  shrinkTo(n: number, capacity = Math.max(n, 512)): void {
    if (n < this.length) this.truncate(n);
    if (this.cap > capacity) this.grow(Math.max(capacity, this.length), true);
  }

  truncate(n: number): void {
    if (n < this.ids.length) this.ids.length = n;
    for (const at of this.marks.keys()) if (at > n) this.marks.delete(at);
    for (const at of this.pinned.keys()) if (at > n) this.pinned.delete(at);
  }

  /** Logits after the first `n` cached tokens, as the graph run that produced them returned them,
   *  kept while those tokens stay cached (the last MAX_MARKS steps). A request whose tokens are
   *  all cached takes them from here instead of re-running its last token: a one-token run over a
   *  cache differs in the last bits from the chunk that first computed them, enough to flip a
   *  greedy near-tie between two identical requests. */
  private readonly marks = new Map<number, Float32Array>();
  private readonly pinned = new Map<number, Float32Array>();

  /** pin: the end of a request's tokens (kept apart from the decode steps' marks). */
  remember(n: number, logits: Float32Array, pin = false): void {
    if (n > this.length) return;
    const into = pin ? this.pinned : this.marks;
    into.delete(n);
    into.set(n, logits);
    if (into.size > (pin ? MAX_PINNED : MAX_MARKS)) into.delete(into.keys().next().value!);
  }

  logitsAt(n: number): Float32Array | undefined {
    return n <= this.length ? (this.pinned.get(n) ?? this.marks.get(n)) : undefined;
  }

  private grow(cap: number, allowShrink = false): void {
    if (!allowShrink && cap <= this.cap) return;
    const c = this.c;
    // `rows` rows of `cap` slots of `unit` values each: K/V are [Hkv, cap, D] (rows Hkv, unit D); importance keys are
    // stored transposed, [Hkv, E, cap] (rows Hkv*E, unit 1). The first min(length, cap) slots of every row are kept.
    const re = <T extends Float32Array | Int8Array | Uint8Array | Int32Array>(old: T | undefined, rows: number, unit: number, make: (n: number) => T): T => {
      const next = make(rows * cap * unit);
      if (old && this.cap) {
        const keep = Math.min(this.length, cap) * unit;
        for (let r = 0; r < rows; r++) next.set(old.subarray(r * this.cap * unit, r * this.cap * unit + keep), r * cap * unit);
      }
      return next;
    };
    const f32 = (n: number) => new Float32Array(n);
    const int8 = this.form === 'int8';
    for (let l = 0; l < c.n_layers; l++) {
      this.k[l] = int8 ? re(this.k[l] as Uint8Array, c.n_kv_heads, c.head_dim, (n) => new Uint8Array(n)) : re(this.k[l] as Float32Array, c.n_kv_heads, c.head_dim, f32);
      this.v[l] = int8 ? re(this.v[l] as Int8Array, c.n_kv_heads, c.head_dim, (n) => new Int8Array(n)) : re(this.v[l] as Float32Array, c.n_kv_heads, c.head_dim, f32);
      this.ks[l] = int8 ? re(this.ks[l], c.n_kv_heads, 1, f32) : new Float32Array(0);
      this.vs[l] = int8 ? re(this.vs[l], c.n_kv_heads, 1, f32) : new Float32Array(0);
      this.ik[l] = l === 0 ? new Int8Array(0) : re(this.ik[l], c.n_kv_heads * c.imp_dim, 1, (n) => new Int8Array(n));
      this.ikSum[l] = l === 0 ? new Int32Array(0) : re(this.ikSum[l], c.n_kv_heads, 1, (n) => new Int32Array(n));
    }
    const ids = new BigInt64Array(cap);
    ids.set(this.idBuf.subarray(0, Math.min(this.length, cap)));
    this.idBuf = ids;
    this.cap = cap;
  }

  /** Appends S new rows per layer from the graph outputs ([Hkv, S, dim] each; the compact cache's steps
   *  newKs / newVs [Hkv, S]) and their token ids. */
  append(ids: number[], newK: KRows[], newV: VRows[], newIk: (Int8Array | undefined)[], newIkSum: (Int32Array | undefined)[], newKs?: Float32Array[], newVs?: Float32Array[]): void {
    const c = this.c;
    const S = ids.length;
    const P = this.length;
    this.ensure(P + S);
    const put = <T extends Float32Array | Int32Array | Uint8Array | Int8Array>(dst: T, src: T, dim: number) => {
      for (let h = 0; h < c.n_kv_heads; h++) dst.set(src.subarray(h * S * dim, (h + 1) * S * dim), (h * this.cap + P) * dim);
    };
    const putT = (dst: Int8Array, src: Int8Array, dim: number) => {
      // src [Hkv, S, dim] -> dst [Hkv, dim, cap] at slots P..P+S-1
      for (let h = 0; h < c.n_kv_heads; h++)
        for (let s = 0; s < S; s++)
          for (let e = 0; e < dim; e++) dst[(h * dim + e) * this.cap + P + s] = src[(h * S + s) * dim + e];
    };
    for (let l = 0; l < c.n_layers; l++) {
      put(this.k[l], newK[l], c.head_dim);
      put(this.v[l], newV[l], c.head_dim);
      if (this.form === 'int8') {
        put(this.ks[l], newKs![l], 1);
        put(this.vs[l], newVs![l], 1);
      }
      const ik = newIk[l];
      if (l > 0 && ik) putT(this.ik[l], ik, c.imp_dim);
      const sum = newIkSum[l];
      if (l > 0 && sum) put(this.ikSum[l], sum, 1);
    }
    for (let i = 0; i < S; i++) this.idBuf[P + i] = BigInt(ids[i]);
    for (const id of ids) this.ids.push(id);
  }
}

/** Length of the longest common prefix of two token sequences. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
