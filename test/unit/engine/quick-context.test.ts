// EngineConfig.partialContext: a completion whose related files are not cached yet runs on a
// window of the current file around the cursor, in a cache of its own (no cold prefill of the
// repository first), and ends at its first line; a warmup prefills that window first; once the
// warmup has cached the whole context, completions use all of it; the warmup's progress survives
// the quick answers.
import * as path from 'path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ContextPayload } from '../../../src/shared/protocol';
import { CancelledError, Engine, Hooks, QUICK_PREFILL_TOKENS, WARMUP_PREFILL_CHUNK, WARMUP_TYPING_ROOM } from '../../../src/engine/engine';
import { QUICK_PREFIX_GROWTH, QUICK_PREFIX_TOKENS, QUICK_SUFFIX_TOKENS, trimCurrent } from '../../../src/engine/quick-context';

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
    engine.quickKv!.truncate(0);
    const r = await engine.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toEqual({ placedFiles: 0, relatedFiles: related.length, fullContextTokens: expect.any(Number) });
    expect(r.contextPartial!.fullContextTokens).toBeGreaterThan(tokensOf(related));
    expect(r.contextTokens).toBeLessThan(QUICK_PREFILL_TOKENS / 4); // the current file alone
    expect(r.prefilledTokens).toBeLessThanOrEqual(r.contextTokens);
  }, 120_000);

  it('a warmup stopped part-way: the window at the cursor was prefilled first, the quick answer reads it, and the warmup\'s progress stays', async () => {
    engine.kv!.truncate(0);
    engine.quickKv!.truncate(0);
    let chunks = 0;
    const stopAfter: Hooks = { emit: (e) => void (e.type === 'progress' && chunks++), cancelled: () => chunks >= 8 };
    await expect(engine.warmup(ctx(), stopAfter)).rejects.toBeInstanceOf(CancelledError);
    const cachedTokens = engine.kv!.length;
    const cachedIds = [...engine.kv!.ids];
    // a warmup runs in small chunks (a completion waits for the one in progress): 8 of them, 1,024 tokens
    expect(cachedTokens).toBe(8 * WARMUP_PREFILL_CHUNK);
    // before them, the window a completion at this cursor reads, in the side cache
    const windowTokens = engine.quickKv!.length;
    expect(windowTokens).toBeGreaterThan(0);
    expect(windowTokens).toBeLessThan(QUICK_PREFILL_TOKENS / 4);
    const r = await engine.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toEqual({ placedFiles: 0, relatedFiles: related.length, fullContextTokens: expect.any(Number) });
    // the window is read from the side cache: nothing (or the healed last token) is prefilled
    expect(r.prefilledTokens).toBeLessThanOrEqual(1);
    expect(r.reusedTokens).toBeGreaterThanOrEqual(r.contextTokens - 1);
    // the main cache, the warmup's progress, is as the warmup left it
    expect(engine.kv!.ids).toEqual(cachedIds);
    // the side cache holds what one quick answer needs, no more (the graphs compute over all of it)
    expect(engine.quickKv!.cap).toBeLessThan(r.contextTokens + 64 + 4 + 256);
    // typing at the cursor after it: only the typed tokens are prefilled
    const typed = await engine.complete({ context: ctx(prefix + 'g0_1(') }, hooks);
    expect(typed.contextPartial).toBeDefined();
    expect(typed.prefilledTokens).toBeLessThan(8);
    expect(engine.kv!.ids).toEqual(cachedIds);
  }, 120_000);

  it('after the warmup has finished, the full stream is used and only the cursor line is prefilled', async () => {
    const w = await engine.warmup(ctx(), hooks);
    // it resumed where it stopped: the quick answers in between did not touch its cache
    expect(w.prefilledTokens).toBe(w.contextTokens - 8 * WARMUP_PREFILL_CHUNK);
    // the warmup left room for typing and a completion: the next ones do not grow (copy) the cache
    const cap = engine.kv!.cap;
    expect(cap).toBeGreaterThanOrEqual(w.contextTokens + 64 + 4 + WARMUP_TYPING_ROOM);
    const r = await engine.complete({ context: ctx(prefix + '1') }, hooks);
    expect(engine.kv!.cap).toBe(cap);
    expect(r.contextPartial).toBeUndefined();
    expect(r.contextTokens).toBeGreaterThan(tokensOf(related));
    expect(r.prefilledTokens).toBeLessThan(32);
    expect(r.reusedTokens).toBe(r.contextTokens - r.prefilledTokens);
  }, 120_000);

  it('Explain before the warmup reads what a quick completion reads, and says so; after it, the whole context', async () => {
    engine.kv!.truncate(0);
    engine.quickKv!.truncate(0);
    const sel = { context: { files: related, current: { file: 'src/main.ts', prefix: 'import { g0_1 } from "./lib0";\n\nconst total = ', suffix: '\n' } }, selection: 'g0_1(2);' };
    const cold = await engine.explain(sel, hooks);
    expect(cold.contextPartial).toEqual({ placedFiles: 0, relatedFiles: related.length, fullContextTokens: expect.any(Number) });
    expect(engine.kv!.length).toBe(0); // the repository context's cache is left to the warmup
    expect(engine.quickKv!.length).toBeGreaterThan(0);
    expect(engine.quickKv!.length).toBeLessThan(QUICK_PREFILL_TOKENS / 4); // the current file and the selection only
    expect(cold.tokens.map((t) => t.text).join('')).toBe(sel.selection);
    expect(cold.chosen.every((c) => c.file === 'src/main.ts')).toBe(true);
    await engine.warmup(sel.context, hooks);
    const warm = await engine.explain(sel, hooks);
    expect(warm.contextPartial).toBeUndefined();
    expect(engine.kv!.ids.length).toBeGreaterThan(tokensOf(related));
  }, 120_000);

  it('is off unless configured: the request prefills the whole context', async () => {
    const plain = new Engine();
    await plain.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 8192, maxNewTokens: 2 }, hooks);
    const r = await plain.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toBeUndefined();
    expect(r.prefilledTokens).toBe(r.contextTokens);
  }, 120_000);
});

describe('the quick answer reads a window of a long current file', () => {
  // 120 small functions: the prefix is far longer than the window, as in a real file
  const fns = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `export function f${from + i}(x: number): number {\n  return x * ${from + i};\n}\n\n`).join('');
  const long = fns(0, 120) + 'export function f120(x: number): number {\n';
  const suffix = '\n' + fns(121, 160);
  const at = (p: string): ContextPayload => ({ files: related, current: { file: 'src/long.ts', prefix: p, suffix } });
  let quick: Engine;

  beforeAll(async () => {
    quick = new Engine();
    await quick.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 8192, maxNewTokens: 24, partialContext: true }, hooks);
  }, 60_000);

  it('prefills the lines before the cursor and the start of the suffix, keeps that window while typing, and ends at the first line', async () => {
    const tok = quick.loaded!.tokenizer;
    expect(tok.encode(long).ids.length).toBeGreaterThan(2 * (QUICK_PREFIX_TOKENS + QUICK_PREFIX_GROWTH));
    const r1 = await quick.complete({ context: at(long) }, hooks);
    expect(r1.contextPartial?.placedFiles).toBe(0);
    // header and FIM markers aside, the current file contributes the window and a short suffix
    expect(r1.contextTokens).toBeLessThanOrEqual(QUICK_PREFIX_TOKENS + QUICK_SUFFIX_TOKENS + 16);
    expect(r1.contextTokens).toBeGreaterThan(QUICK_PREFIX_TOKENS / 2);
    expect(r1.completion.trim()).not.toContain('\n'); // the first line only
    // typing at the cursor: the window's start stays, so only the typed tokens are prefilled
    const r2 = await quick.complete({ context: at(long + '  return') }, hooks);
    expect(r2.contextPartial).toBeDefined();
    expect(r2.prefilledTokens).toBeLessThan(8);
    expect(r2.reusedTokens).toBeGreaterThan(r1.contextTokens - 8);
    // typed on past QUICK_PREFIX_GROWTH tokens: the window moves on to the last lines again
    const r3 = await quick.complete({ context: at(long + '  return x;\n}\n\n' + fns(200, 240)) }, hooks);
    expect(r3.contextTokens).toBeLessThanOrEqual(QUICK_PREFIX_TOKENS + QUICK_SUFFIX_TOKENS + 16);
    expect(r3.prefilledTokens).toBeGreaterThan(QUICK_PREFIX_TOKENS / 2);
  }, 120_000);

  it('once the warmup has read the context, the completion reads the whole file and may run over several lines', async () => {
    await quick.warmup(at(long), hooks);
    const r = await quick.complete({ context: at(long) }, hooks);
    expect(r.contextPartial).toBeUndefined();
    expect(r.contextTokens).toBeGreaterThan(quick.loaded!.tokenizer.encode(long).ids.length);
    expect(r.completion.trim().split('\n').length).toBeGreaterThan(1);
  }, 120_000);
});

describe('trimCurrent', () => {
  // [related 0: 3 tokens][sep][header][fim_suffix][suffix: 4 tokens][fim_prefix][prefix: 5 tokens]
  const s = {
    ids: [1, 2, 3, 90, 91, 92, 10, 11, 12, 13, 93, 20, 21, 22, 23, 24],
    fileOf: Int32Array.from([0, 0, 0, -1, -1, -1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1]),
    start: Int32Array.from([0, 4, 8, 0, 0, 0, 50, 52, 54, 56, 0, 0, 10, 20, 30, 40]),
    end: Int32Array.from([4, 8, 12, 0, 0, 0, 52, 54, 56, 58, 0, 10, 20, 30, 40, 50]),
    files: ['a.ts', 'cur.ts'],
    currentStart: 3,
    prefixStart: 11,
  };

  it('drops the prefix before the cut and the suffix past its limit, keeping everything else and the offsets', () => {
    const t = trimCurrent(s, 50, 20, 2);
    expect(t.ids).toEqual([1, 2, 3, 90, 91, 92, 10, 11, 93, 22, 23, 24]);
    expect(Array.from(t.start)).toEqual([0, 4, 8, 0, 0, 0, 50, 52, 0, 20, 30, 40]);
    expect(Array.from(t.end)).toEqual([4, 8, 12, 0, 0, 0, 52, 54, 0, 30, 40, 50]);
    expect(Array.from(t.fileOf)).toEqual([0, 0, 0, -1, -1, -1, 1, 1, -1, 1, 1, 1]);
    expect(t.currentStart).toBe(3);
    expect(t.prefixStart).toBe(9);
    expect(t.ids[t.prefixStart]).toBe(22);
  });

  it('keeps the stream whole with the cut at 0 and room for the suffix', () => {
    const t = trimCurrent(s, 50, 0, 64);
    expect(t.ids).toEqual(s.ids);
    expect(t.prefixStart).toBe(s.prefixStart);
  });
});

describe('a cold cache does not wait for tokenizing the whole context', () => {
  let cold: Engine;
  const lastText = related[related.length - 1].text;
  const encodedTexts = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map((c) => c[0] as string);

  beforeEach(async () => {
    cold = new Engine(); // its own encoding cache: nothing tokenized yet
    await cold.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 8192, maxNewTokens: 4, partialContext: true }, hooks);
  }, 60_000);

  it('the quick answer lays out only the first related files, and estimates the full size', async () => {
    const encode = vi.spyOn(cold.loaded!.tokenizer, 'encode');
    const r = await cold.complete({ context: ctx() }, hooks);
    expect(r.contextPartial).toMatchObject({ placedFiles: 0, relatedFiles: related.length });
    expect(encodedTexts(encode)).not.toContain(lastText);
    encode.mockRestore();
    const full = (await cold.warmup(ctx(), hooks)).contextTokens;
    expect(r.contextPartial!.fullContextTokens).toBeGreaterThan(full * 0.8);
    expect(r.contextPartial!.fullContextTokens).toBeLessThan(full * 1.25);
  }, 120_000);

  it('a warmup stopped while it tokenizes stops within its first step', async () => {
    let stop = false;
    const tok = cold.loaded!.tokenizer;
    const original = tok.encode.bind(tok);
    const encode = vi.spyOn(tok, 'encode').mockImplementation((text) => {
      stop = true; // a completion arrives while the warmup tokenizes
      return original(text);
    });
    await expect(cold.warmup(ctx(), { emit: () => undefined, cancelled: () => stop })).rejects.toBeInstanceOf(CancelledError);
    const texts = encodedTexts(encode);
    expect(texts.length).toBeGreaterThan(0);
    expect(texts).not.toContain(lastText);
    encode.mockRestore();
  }, 120_000);
});
