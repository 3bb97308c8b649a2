// The resident cache: a one-character edit in the current file re-prefills only the tokens after
// the edit (from the edited line on); typing at the cursor re-prefills about one line; typing what
// was suggested is free; related files placed in the same order are never re-prefilled.
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContextPayload } from '../../../src/shared/protocol';
import { Engine, Hooks, SPARSE_PREFILL_CHUNK, SPARSE_PREFILL_FROM } from '../../../src/engine/engine';

const modelDir = path.resolve(__dirname, '../../../models/default');
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const related = Array.from({ length: 6 }, (_, i) => ({
  file: `src/lib${i}.ts`,
  text: Array.from({ length: 40 }, (_, j) => `export function f${i}_${j}(x: number): number {\n  return x * ${j} + ${i};\n}\n`).join(''),
}));
const lines = Array.from({ length: 60 }, (_, j) => `const value${j} = f0_${j % 40}(${j});`);

let engine: Engine;
const tok = () => engine.loaded!.tokenizer;
const ctx = (prefix: string, suffix = '\n'): ContextPayload => ({ files: related, current: { file: 'src/main.ts', prefix, suffix } });

beforeAll(async () => {
  engine = new Engine();
  await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 16384, maxNewTokens: 6 }, hooks);
}, 60_000);

describe('prefix reuse of the resident context', () => {
  it('a one-character edit in the current file re-prefills only from the edited line on', async () => {
    const prefix = lines.join('\n') + '\nconst next = ';
    const first = await engine.complete({ context: ctx(prefix) }, hooks);
    expect(first.contextTokens).toBeGreaterThan(4000);
    const edited = [...lines];
    edited[30] = edited[30].replace('const', 'let  ');
    const editedPrefix = edited.join('\n') + '\nconst next = ';
    const r = await engine.complete({ context: ctx(editedPrefix) }, hooks);
    const tail = edited.slice(29).join('\n') + '\nconst next = '; // from the line before the edit
    const bound = tok().encode(tail).ids.length + 2;
    expect(r.prefilledTokens).toBeLessThanOrEqual(bound);
    expect(r.prefilledTokens).toBeGreaterThan(0);
    expect(r.reusedTokens).toBe(r.contextTokens - r.prefilledTokens);
  }, 120_000);

  it('typing one character at the cursor re-prefills about one line', async () => {
    const base = lines.join('\n') + '\nconst next = f';
    await engine.complete({ context: ctx(base) }, hooks);
    const r = await engine.complete({ context: ctx(base + '0') }, hooks);
    expect(r.prefilledTokens).toBeLessThanOrEqual(tok().encode('\nconst next = f0').ids.length + 12);
  }, 120_000);

  it('typing the suggested text reuses the tokens the engine generated', async () => {
    const base = lines.join('\n') + '\nconst other = ';
    const r1 = await engine.complete({ context: ctx(base), maxNewTokens: 6, multiline: false }, hooks);
    if (r1.completion.length < 2) return; // nothing to type along with
    const r2 = await engine.complete({ context: ctx(base + r1.completion) }, hooks);
    // the generated tokens are already in the cache: only re-tokenisation differences at the boundary
    expect(r2.prefilledTokens).toBeLessThanOrEqual(tok().encode(lines[59] + '\nconst other = ' + r1.completion).ids.length + 2);
  }, 120_000);
});

describe('sparse prefill (prefill: "sparse")', () => {
  it('prefills exactly up to SPARSE_PREFILL_FROM, then through the sparse graph, and predicts nearly what dense prefill does', async () => {
    const prefix = lines.join('\n') + '\n' + lines.join('\n').replace(/value/g, 'item') + '\nconst next = ';
    const ids = (await engine.complete({ context: ctx(prefix), maxNewTokens: 1 }, hooks)).contextTokens;
    expect(ids).toBeGreaterThan(SPARSE_PREFILL_FROM + 2 * SPARSE_PREFILL_CHUNK);
    const kv = engine.kv!;
    const stream = [...kv.ids];
    const snapshot = (l: number) => {
      const c = engine.loaded!.config;
      const rows: Float32Array[] = [];
      for (let h = 0; h < c.n_kv_heads; h++) rows.push(Float32Array.from(kv.k[l].slice(h * kv.cap * c.head_dim, (h * kv.cap + stream.length) * c.head_dim))); // float32 or the compact cache's u8
      return rows;
    };
    kv.truncate(0);
    const dense = await engine.prefill(stream, hooks, 'dense');
    const denseK = snapshot(2);
    const denseLogits = Float32Array.from(dense.logits);
    kv.truncate(0);
    const sparse = await engine.prefill(stream, hooks, 'sparse');
    const sparseK = snapshot(2);
    expect(sparse.prefilled).toBe(stream.length);
    const D = engine.loaded!.config.head_dim;
    // rows before SPARSE_PREFILL_FROM come from the same dense chunks: identical
    const head0Before = (k: Float32Array[]) => k[0].subarray(0, SPARSE_PREFILL_FROM * D);
    expect(Array.from(head0Before(sparseK))).toEqual(Array.from(head0Before(denseK)));
    // rows after it were computed reading a selection: they differ (layer 2 depends on layer-1 attention)
    const after = (k: Float32Array[]) => k[0].subarray(SPARSE_PREFILL_FROM * D, stream.length * D);
    let diff = 0;
    const a = after(sparseK), b = after(denseK);
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeGreaterThan(0);
    // and the next-token prediction is nearly the same
    const top = (x: Float32Array, n: number) => Array.from(x.keys()).sort((i, j) => x[j] - x[i]).slice(0, n);
    expect(top(sparse.logits, 1)[0]).toBe(top(denseLogits, 1)[0]);
    expect(top(sparse.logits, 5).filter((t) => top(denseLogits, 5).includes(t)).length).toBeGreaterThanOrEqual(3);
  }, 240_000);
});
