// The cache's token-id buffer (fed as `ctx_ids` to graphs with pointer heads) must hold the id of
// every valid slot, at the slot the K/V rows are in, through growth, truncation and shrinking.
import { describe, expect, it } from 'vitest';
import { KvCache } from '../../../src/engine/kv-cache';
import type { ModelConfig } from '../../../src/engine/model';

const cfg: ModelConfig = { vocab_size: 64, d_model: 8, n_layers: 2, n_heads: 2, n_kv_heads: 1, head_dim: 4, imp_dim: 2, producer_layer: 1 };

function rows(S: number, dim: number, base: number): Float32Array {
  return Float32Array.from({ length: S * dim }, (_, i) => base + i);
}

function append(c: KvCache, ids: number[]): void {
  const S = ids.length;
  c.append(ids, [rows(S, 4, ids[0]), rows(S, 4, ids[0])], [rows(S, 4, ids[0]), rows(S, 4, ids[0])], [undefined, new Int8Array(S * 2)], [undefined, new Int32Array(S)]);
}

describe('KvCache token ids', () => {
  it('idBuf matches ids slot for slot across growth, truncation and shrinking', () => {
    const c = new KvCache(cfg, 4);
    const all: number[] = [];
    for (let i = 0; i < 40; i++) {
      const chunk = [i + 5, (i * 7) % 60];
      append(c, chunk);
      all.push(...chunk);
    }
    expect(c.cap).toBeGreaterThanOrEqual(80);
    expect(c.idBuf.length).toBe(c.cap);
    expect(Array.from(c.idBuf.subarray(0, c.length), Number)).toEqual(all);
    c.truncate(30);
    append(c, [61, 62]);
    expect(Array.from(c.idBuf.subarray(0, c.length), Number)).toEqual([...all.slice(0, 30), 61, 62]);
    c.shrinkTo(20, 24);
    expect(c.cap).toBe(24);
    expect(c.idBuf.length).toBe(24);
    expect(Array.from(c.idBuf.subarray(0, c.length), Number)).toEqual(all.slice(0, 20));
  });
});

describe('KvCache importance keys', () => {
  // int8, stored transposed, [Hkv, E, cap] (what the sparse graph reads as past_ik_t): slot j of (head h, dim e) at (h*E + e)*cap + j
  const cfg2: ModelConfig = { ...cfg, n_kv_heads: 2, imp_dim: 3 };
  const ikOf = (id: number, h: number, e: number) => ((id * 37 + h * 11 + e * 3) % 255) - 127; // distinct per (id, h, e) here, within [-127, 127]
  const sumOf = (id: number, h: number) => -64 * (id * 3 + h); // the key sums: [Hkv, cap] Int32, slot j of head h at h*cap + j
  function put(c: KvCache, ids: number[]): void {
    const S = ids.length, H = 2, E = 3, D = 4;
    const ik = new Int8Array(H * S * E); // graph output layout [Hkv, S, E]
    for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) for (let e = 0; e < E; e++) ik[(h * S + s) * E + e] = ikOf(ids[s], h, e);
    const kv = () => [new Float32Array(H * S * D), new Float32Array(H * S * D)];
    const sum = Int32Array.from({ length: H * S }, (_, i) => sumOf(ids[i % S], Math.floor(i / S))); // [Hkv, S]
    c.append(ids, kv(), kv(), [undefined, ik], [undefined, sum]);
  }
  const check = (c: KvCache, ids: number[]) => {
    for (let h = 0; h < 2; h++)
      for (let e = 0; e < 3; e++)
        for (let j = 0; j < ids.length; j++) expect(c.ik[1][(h * 3 + e) * c.cap + j]).toBe(ikOf(ids[j], h, e));
    for (let h = 0; h < 2; h++) for (let j = 0; j < ids.length; j++) expect(c.ikSum[1][h * c.cap + j]).toBe(sumOf(ids[j], h));
  };
  it('lands each slot in its (head, dim) row and survives growth, truncation and shrinking', () => {
    const c = new KvCache(cfg2, 4);
    const all: number[] = [];
    for (let i = 0; i < 30; i++) {
      const chunk = [i + 1, i + 40, i + 80].slice(0, 1 + (i % 3));
      put(c, chunk);
      all.push(...chunk);
    }
    expect(c.cap).toBeGreaterThan(4);
    expect(c.ik[1].length).toBe(2 * 3 * c.cap);
    check(c, all);
    c.truncate(25);
    put(c, [7, 8]);
    check(c, [...all.slice(0, 25), 7, 8]);
    c.shrinkTo(20, 24);
    expect(c.ik[1].length).toBe(2 * 3 * 24);
    expect(c.ikSum[1].length).toBe(2 * 24);
    check(c, all.slice(0, 20));
  });
});

describe('KvCache remembered logits', () => {
  const L = (x: number) => Float32Array.of(x, -x);

  it('gives back the logits after a position while its tokens stay cached, and forgets them once truncated below it', () => {
    const c = new KvCache(cfg, 4);
    append(c, [1, 2, 3]);
    c.remember(3, L(3));
    append(c, [4]);
    c.remember(4, L(4));
    expect(c.logitsAt(3)).toEqual(L(3));
    expect(c.logitsAt(4)).toEqual(L(4));
    c.truncate(3); // the position-3 logits still describe tokens 1,2,3
    expect(c.logitsAt(3)).toEqual(L(3));
    expect(c.logitsAt(4)).toBeUndefined();
    append(c, [9]); // another token at position 4: the old logits must not come back
    expect(c.logitsAt(4)).toBeUndefined();
    c.truncate(2);
    append(c, [7]);
    expect(c.logitsAt(3)).toBeUndefined();
    c.shrinkTo(1, 8);
    expect(c.logitsAt(2)).toBeUndefined();
  });

  it('ignores positions past the cache and keeps only the most recent 32', () => {
    const c = new KvCache(cfg, 4);
    c.remember(1, L(1));
    expect(c.logitsAt(1)).toBeUndefined();
    for (let i = 0; i < 40; i++) {
      append(c, [i]);
      c.remember(c.length, L(c.length));
    }
    expect(c.logitsAt(8)).toBeUndefined();
    expect(c.logitsAt(9)).toEqual(L(9));
    expect(c.logitsAt(40)).toEqual(L(40));
  });

  it('keeps a request end (pinned) through more decode steps than it keeps marks', () => {
    const c = new KvCache(cfg, 4);
    append(c, [1, 2, 3]);
    c.remember(3, L(3), true);
    for (let i = 0; i < 64; i++) {
      append(c, [i]);
      c.remember(c.length, L(c.length));
    }
    expect(c.logitsAt(3)).toEqual(L(3));
    expect(c.logitsAt(4)).toBeUndefined();
    c.truncate(2);
    expect(c.logitsAt(3)).toBeUndefined();
  });
});

describe('KvCache compact form (config.kv_cache "int8")', () => {
  // K u8 [Hkv, cap, D], V int8 [Hkv, cap, D], their row steps f32 [Hkv, cap]: slot j of head h at (h*cap + j)*D and h*cap + j
  const cfg8: ModelConfig = { ...cfg, n_kv_heads: 2, kv_cache: 'int8' };
  const H = 2, D = 4;
  const kOf = (id: number, h: number, d: number) => (id * 13 + h * 5 + d) % 256;
  const vOf = (id: number, h: number, d: number) => ((id * 7 + h * 3 + d) % 255) - 127;
  const stepOf = (id: number, h: number, which: number) => (id + 1) * 0.001 + h * 0.1 + which;
  function put(c: KvCache, ids: number[]): void {
    const S = ids.length;
    const rows = <T extends Uint8Array | Int8Array>(make: (n: number) => T, f: (id: number, h: number, d: number) => number) => {
      const a = make(H * S * D); // graph output layout [Hkv, S, D]
      for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) a[(h * S + s) * D + d] = f(ids[s], h, d);
      return a;
    };
    const steps = (which: number) => Float32Array.from({ length: H * S }, (_, i) => stepOf(ids[i % S], Math.floor(i / S), which)); // [Hkv, S]
    const ks = [steps(0), steps(0)], vs = [steps(1), steps(1)];
    const k = [rows((n) => new Uint8Array(n), kOf), rows((n) => new Uint8Array(n), kOf)];
    const v = [rows((n) => new Int8Array(n), vOf), rows((n) => new Int8Array(n), vOf)];
    c.append(ids, k, v, [undefined, new Int8Array(H * S * 2)], [undefined, new Int32Array(H * S)], ks, vs);
  }
  const check = (c: KvCache, ids: number[]) => {
    expect(c.k[1]).toBeInstanceOf(Uint8Array);
    expect(c.v[1]).toBeInstanceOf(Int8Array);
    for (let l = 0; l < 2; l++)
      for (let h = 0; h < H; h++)
        for (let j = 0; j < ids.length; j++) {
          for (let d = 0; d < D; d++) {
            expect(c.k[l][(h * c.cap + j) * D + d]).toBe(kOf(ids[j], h, d));
            expect(c.v[l][(h * c.cap + j) * D + d]).toBe(vOf(ids[j], h, d));
          }
          expect(c.ks[l][h * c.cap + j]).toBeCloseTo(stepOf(ids[j], h, 0), 6);
          expect(c.vs[l][h * c.cap + j]).toBeCloseTo(stepOf(ids[j], h, 1), 6);
        }
  };
  it('lands each row and its step at its slot and keeps them through growth, truncation and shrinking', () => {
    const c = new KvCache(cfg8, 4);
    expect(c.form).toBe('int8');
    const all: number[] = [];
    for (let i = 0; i < 30; i++) {
      const chunk = [i + 5, (i * 11) % 60, (i * 3) % 50];
      put(c, chunk);
      all.push(...chunk);
    }
    expect(c.cap).toBeGreaterThanOrEqual(90);
    expect(c.ks[0].length).toBe(H * c.cap);
    check(c, all);
    c.truncate(40);
    put(c, [61, 62]);
    check(c, [...all.slice(0, 40), 61, 62]);
    c.shrinkTo(20, 24);
    expect(c.cap).toBe(24);
    check(c, all.slice(0, 20));
  });

  it('holds a quarter of the float32 bytes of K/V plus a step per row', () => {
    // the default model's shape: L 4, Hkv 4, D 64, E 28
    const big: ModelConfig = { vocab_size: 4096, d_model: 256, n_layers: 4, n_heads: 4, n_kv_heads: 4, head_dim: 64, imp_dim: 28, producer_layer: 1 };
    const f32 = new KvCache(big, 4);
    const int8 = new KvCache({ ...big, kv_cache: 'int8' }, 4);
    expect(f32.form).toBe('f32');
    expect(f32.kvBytesPerToken).toBe(8192);
    expect(f32.bytesPerToken).toBe(8584);
    expect(int8.kvBytesPerToken).toBe(2 * 4 * 4 * (64 + 4)); // 2,176
    expect(int8.bytesPerToken).toBe(2176 + 3 * 4 * 32 + 8); // 2,568
    expect(int8.bytes).toBe(int8.cap * 2568);
  });
});
