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
  c.append(ids, [rows(S, 4, ids[0]), rows(S, 4, ids[0])], [rows(S, 4, ids[0]), rows(S, 4, ids[0])], [undefined, rows(S, 2, ids[0])]);
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
