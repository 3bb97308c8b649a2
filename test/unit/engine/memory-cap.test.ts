// Engine memory is bounded by maxContextTokens: however large the context the editor sends, and
// however it grows from one request to the next, the KV cache (K, V and importance keys) never
// holds more than the cap plus the tokens one request may add (completion or explained selection)
// plus a little slack for the prefill chunking, times the bytes per cached token.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, type Hooks } from '../../../src/engine/engine';
import type { ContextPayload } from '../../../src/shared/protocol';
import { modelDir } from '../hardening/real-engine';

const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const MAX_CONTEXT = 2048;
const MAX_NEW = 32;
const HEADROOM = 128; // the stream may exceed the cap by a header; prefill keeps 64 spare rows

/** `n` related files of 20 lines (~450 tokens each), then a current file of `prefixLines` lines. */
function context(n: number, prefixLines: number, tag: string): ContextPayload {
  const lines = (count: number, f: string) => Array.from({ length: count }, (_, i) => `export const ${f}${i} = compute(${i}, "item ${i}");`).join('\n');
  const files = Array.from({ length: n }, (_, k) => ({ file: `src/${tag}${k}.ts`, text: lines(20, `${tag}${k}_`) }));
  return { files, current: { file: 'src/main.ts', prefix: `${lines(prefixLines, 'cur')}\nconst x = `, suffix: '\n}\n' } };
}

describe('engine memory is bounded by maxContextTokens', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = new Engine();
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: MAX_CONTEXT, maxNewTokens: MAX_NEW }, hooks);
  }, 60_000);

  it('contexts growing step by step to 50x the cap, decode and explain: the cache stays within the cap', async () => {
    const kv = () => engine.kv!;
    const bpt = kv().bytesPerToken;
    const bound = (MAX_CONTEXT + MAX_NEW + HEADROOM) * bpt;
    let peak = 0;
    let biggest = 0;
    // Files are appended one at a time (the cache grows in small steps, where a 1.25x growth
    // rule would overshoot), then the context and the current file become far larger than the cap.
    const steps: [number, number][] = [];
    for (let n = 0; n <= 5; n++) steps.push([n, 5]);
    steps.push([200, 5], [2, 3000], [200, 3000]);
    for (const [n, prefixLines] of steps) {
      const r = await engine.complete({ context: context(n, prefixLines, 'g'), maxNewTokens: MAX_NEW, multiline: true }, hooks);
      peak = Math.max(peak, kv().bytes);
      biggest = Math.max(biggest, r.contextTokens);
      expect(r.contextTokens).toBeLessThanOrEqual(MAX_CONTEXT + 16);
    }
    expect(biggest).toBeGreaterThan(MAX_CONTEXT * 0.9); // the cap was reached
    console.log(`[memory] ${bpt} bytes per cached token; peak ${(peak / 2 ** 20).toFixed(2)} MB = ${peak / bpt} tokens at maxContextTokens ${MAX_CONTEXT}, maxNewTokens ${MAX_NEW} (bound ${bound / bpt} tokens)`);
    expect(peak).toBeLessThanOrEqual(bound);
    // Explain appends the selection's tokens to the cache: it may grow by those, no more.
    const selection = 'const y = compute(1, "item");\n'.repeat(20);
    const r = await engine.explain({ context: context(200, 50, 'e'), selection }, hooks);
    expect(kv().bytes).toBeLessThanOrEqual(bound + Math.ceil(r.tokens.length / 256) * 256 * bpt);
  }, 300_000);

  it('lowering maxContextTokens releases the memory at once', async () => {
    await engine.complete({ context: context(200, 50, 's'), maxNewTokens: 2 }, hooks);
    const before = engine.kv!.bytes;
    expect(before).toBeGreaterThan(MAX_CONTEXT * engine.kv!.bytesPerToken * 0.9);
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 256, maxNewTokens: 8 }, hooks);
    const bound = (256 + 8 + HEADROOM) * engine.kv!.bytesPerToken;
    expect(engine.kv!.bytes).toBeLessThanOrEqual(bound);
    const r = await engine.complete({ context: context(200, 50, 's'), maxNewTokens: 8 }, hooks);
    expect(r.contextTokens).toBeLessThanOrEqual(256 + 16);
    expect(engine.kv!.bytes).toBeLessThanOrEqual(bound);
  }, 300_000);
});
