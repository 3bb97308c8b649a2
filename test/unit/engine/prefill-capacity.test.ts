// Every graph computes over the KV cache's whole capacity (slots past the cached tokens are
// masked), so a long prefill grows the capacity with its chunks instead of making room for all of
// it first: an early chunk reads a short cache, not the final one (a cold 15.7k-token prefill 2.3-2.7x
// faster, bench/first-suggestion.md), and the room for what follows is made at the end.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Hooks } from '../../../src/engine/engine';
import type { ContextPayload } from '../../../src/shared/protocol';
import { modelDir } from '../hardening/real-engine';

const MAX_NEW = 32;

function context(files: number): ContextPayload {
  const lines = (f: string) => Array.from({ length: 20 }, (_, i) => `export const ${f}${i} = compute(${i}, "item ${i}");`).join('\n');
  return { files: Array.from({ length: files }, (_, k) => ({ file: `src/f${k}.ts`, text: lines(`f${k}_`) })), current: { file: 'src/main.ts', prefix: 'const x = ', suffix: '\n' } };
}

describe('a long prefill grows the cache with its chunks', () => {
  let engine: Engine;
  const seen: { done: number; total: number; cap: number; length: number }[] = [];
  const hooks: Hooks = {
    emit: (e) => {
      if (e.type === 'progress') seen.push({ done: e.done, total: e.total, cap: engine.kv!.cap, length: engine.kv!.length });
    },
    cancelled: () => false,
  };
  beforeAll(async () => {
    engine = new Engine();
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 8192, maxNewTokens: MAX_NEW, prefill: 'dense' }, hooks);
  }, 60_000);

  it('early chunks run on a capacity near what is cached; the warmup ends with room for the typing', async () => {
    const r = await engine.warmup(context(12), hooks);
    expect(r.contextTokens).toBeGreaterThan(3000);
    expect(seen.length).toBeGreaterThan(8);
    for (const s of seen) {
      expect(s.cap).toBeGreaterThanOrEqual(s.length);
      // at most a quarter (and a 256-token step) past what the chunk needed
      expect(s.cap).toBeLessThanOrEqual(Math.ceil((s.length * 1.25) / 256) * 256 + 256);
    }
    expect(seen[0].cap).toBeLessThan(r.contextTokens / 4);
    expect(engine.kv!.cap).toBeGreaterThanOrEqual(r.contextTokens + 64 + MAX_NEW);
    // and a completion after it reuses the whole prefill
    const c = await engine.complete({ context: context(12), maxNewTokens: 4 }, hooks);
    expect(c.reusedTokens).toBeGreaterThan(r.contextTokens - 16);
  }, 300_000);
});
