// EngineConfig.partialContext: a completion whose related files are not cached yet runs on the
// cached ones plus the current file (no cold prefill of the repository first); once the warmup has
// cached the whole context, completions use all of it; the cached files survive the quick answer.
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContextPayload } from '../../../src/shared/protocol';
import { CancelledError, Engine, Hooks, PREFILL_CHUNK, QUICK_PREFILL_TOKENS } from '../../../src/engine/engine';

const modelDir = path.resolve(__dirname, '../../../models/default');
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const related = Array.from({ length: 8 }, (_, i) => ({
  file: `src/lib${i}.ts`,
  text: Array.from({ length: 24 }, (_, j) => `export function g${i}_${j}(x: number): number {\n  return x * ${j} - ${i};\n}\n`).join(''),
}));
const prefix = 'import { g0_1 } from "./lib0";\n\nconst total = ';
const ctx = (p = prefix): ContextPayload => ({ files: related, current: { file: 'src/main.ts', prefix: p, suffix: '\n' } });

let engine: Engine;
const tokensOf = (files: typeof related) => files.reduce((n, f) => n + engine.loaded!.tokenizer.encode(f.text).ids.length, 0);

beforeAll(async () => {
  engine = new Engine();
  await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 8192, maxNewTokens: 4, partialContext: true }, hooks);
}, 60_000);

describe('quick answer from the cached context (partialContext)', () => {
  it('a cold request with a long related context prefills only the current file', async () => {
    expect(tokensOf(related)).toBeGreaterThan(2 * QUICK_PREFILL_TOKENS);
    engine.kv!.truncate(0);
    const r = await engine.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toEqual({ placedFiles: 0, relatedFiles: related.length, fullContextTokens: expect.any(Number) });
    expect(r.contextPartial!.fullContextTokens).toBeGreaterThan(tokensOf(related));
    expect(r.contextTokens).toBeLessThan(QUICK_PREFILL_TOKENS / 4); // the current file alone
    expect(r.prefilledTokens).toBeLessThanOrEqual(r.contextTokens);
  }, 120_000);

  it('a warmup stopped part-way keeps its whole files cached, and the quick answer reuses them', async () => {
    engine.kv!.truncate(0);
    let chunks = 0;
    const stopAfter: Hooks = { emit: (e) => void (e.type === 'progress' && chunks++), cancelled: () => chunks >= 4 };
    await expect(engine.warmup(ctx(), stopAfter)).rejects.toBeInstanceOf(CancelledError);
    const cachedTokens = engine.kv!.length;
    expect(cachedTokens).toBeGreaterThanOrEqual(4 * PREFILL_CHUNK);
    const r = await engine.complete({ context: ctx() }, hooks);
    const placed = r.contextPartial!.placedFiles;
    expect(placed).toBeGreaterThan(0);
    expect(placed).toBeLessThan(related.length);
    expect(tokensOf(related.slice(0, placed))).toBeLessThanOrEqual(cachedTokens);
    expect(tokensOf(related.slice(0, placed + 1))).toBeGreaterThan(cachedTokens - 64); // every whole cached file is placed
    // the cached files are reused, not prefilled again; only the current file is new
    expect(r.reusedTokens).toBeGreaterThanOrEqual(tokensOf(related.slice(0, placed)));
    expect(r.prefilledTokens).toBeLessThan(QUICK_PREFILL_TOKENS / 4);
    // the warmup grew the capacity for the full context; the graphs compute over all of it, so the quick answer gives it back
    expect(engine.kv!.cap).toBeLessThan(r.contextTokens + 64 + 4 + 256);
  }, 120_000);

  it('after the warmup has finished, the full stream is used and only the cursor line is prefilled', async () => {
    const w = await engine.warmup(ctx(), hooks);
    expect(w.prefilledTokens).toBeGreaterThan(0); // it resumed from the files the quick answer kept
    expect(w.prefilledTokens).toBeLessThan(w.contextTokens);
    const r = await engine.complete({ context: ctx(prefix + '1') }, hooks);
    expect(r.contextPartial).toBeUndefined();
    expect(r.contextTokens).toBeGreaterThan(tokensOf(related));
    expect(r.prefilledTokens).toBeLessThan(32);
    expect(r.reusedTokens).toBe(r.contextTokens - r.prefilledTokens);
  }, 120_000);

  it('is off unless configured: the request prefills the whole context', async () => {
    const plain = new Engine();
    await plain.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 8192, maxNewTokens: 2 }, hooks);
    const r = await plain.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toBeUndefined();
    expect(r.prefilledTokens).toBe(r.contextTokens);
  }, 120_000);
});
