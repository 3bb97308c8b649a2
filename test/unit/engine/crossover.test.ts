// Tokenbutler never slower than dense: below the model's crossover (manifest selection.denseBelow)
// a tokenbutler decode step runs the dense graph; at and above it, the sparse one.
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContextPayload } from '../../../src/shared/protocol';
import { Engine, type Hooks } from '../../../src/engine/engine';
import { DEFAULT_DENSE_BELOW, crossoverOn, denseBelow, policyUsed, setCrossover, setDenseBelow, stepPolicy } from '../../../src/engine/crossover';
import { KvCache } from '../../../src/engine/kv-cache';
import type { LoadedModel, ModelConfig } from '../../../src/engine/model';
import { graphFeeds } from '../../../src/engine/step';

const config: ModelConfig = { vocab_size: 64, d_model: 8, n_layers: 2, n_heads: 1, n_kv_heads: 1, head_dim: 4, imp_dim: 2, producer_layer: 1 };

function model(selection: Record<string, unknown>, on = true): LoadedModel {
  const m = {
    manifest: { selection }, config, selection: { sinks: 4, recent: 8 }, pointer: false, sparseChunks: true, specials: { eot: 0 },
  } as unknown as LoadedModel;
  setCrossover(m, on);
  return m;
}

function cacheOf(n: number): KvCache {
  const c = new KvCache(config, 16);
  c.ensure(n + 1);
  const rows = (w: number) => Array.from({ length: config.n_layers }, () => new Float32Array(config.n_kv_heads * n * w));
  const ik = [undefined, ...Array.from({ length: config.n_layers - 1 }, () => new Int8Array(config.n_kv_heads * n * config.imp_dim))];
  const iks = [undefined, ...Array.from({ length: config.n_layers - 1 }, () => new Int32Array(config.n_kv_heads * n))];
  c.append(Array.from({ length: n }, (_, i) => 5 + (i % 50)), rows(config.head_dim), rows(config.head_dim), ik, iks);
  return c;
}

describe('crossover: tokenbutler runs dense below it', () => {
  it('the manifest value; none (or a bad one): always select', () => {
    expect(denseBelow(model({ denseBelow: 3000 }))).toBe(3000);
    expect(denseBelow(model({ denseBelow: 0 }))).toBe(0);
    expect(denseBelow(model({}))).toBe(DEFAULT_DENSE_BELOW);
    expect(denseBelow(model({ denseBelow: 'x' }))).toBe(DEFAULT_DENSE_BELOW);
    expect(DEFAULT_DENSE_BELOW).toBe(0);
    expect(stepPolicy(model({}), 'tokenbutler', 700)).toBe('tokenbutler');
  });

  it('switches tokenbutler decode steps at the crossover; chunks and other policies keep theirs', () => {
    const m = model({ denseBelow: 3000 });
    expect(stepPolicy(m, 'tokenbutler', 2999)).toBe('dense');
    expect(stepPolicy(m, 'tokenbutler', 3000)).toBe('tokenbutler');
    expect(stepPolicy(m, 'tokenbutler', 100, 128)).toBe('tokenbutler'); // a prefill chunk
    expect(stepPolicy(m, 'window', 10)).toBe('window');
    expect(stepPolicy(m, 'dense', 1e6)).toBe('dense');
    expect(policyUsed(m, 'tokenbutler', 1200)).toBe('dense');
    expect(policyUsed(m, 'tokenbutler', 30000)).toBe('tokenbutler');
  });

  it('a prediction interval has its own crossover: the entry of the largest interval not above it, else denseBelow', () => {
    const m = model({ denseBelow: 20000, denseBelowByInterval: { '2': 8000, '4': 4000, '8': 3000, x: 1, '16': 'bad' } });
    expect(denseBelow(m)).toBe(20000);
    expect(denseBelow(m, 1)).toBe(20000);
    expect(denseBelow(m, 2)).toBe(8000);
    expect(denseBelow(m, 3)).toBe(8000);
    expect(denseBelow(m, 4)).toBe(4000);
    expect(denseBelow(m, 16)).toBe(3000); // a bad entry is skipped
    expect(stepPolicy(m, 'tokenbutler', 5000, 1, false, 4)).toBe('tokenbutler');
    expect(stepPolicy(m, 'tokenbutler', 5000, 1, false, 2)).toBe('dense');
    expect(policyUsed(m, 'tokenbutler', 5000, false, 4)).toBe('tokenbutler');
    expect(denseBelow(model({ denseBelow: 20000, denseBelowByInterval: 'x' }), 4)).toBe(20000);
  });

  it('is on by default (TOKENBUTLER_AUTO_DENSE=0 turns it off) and can be switched off per model', () => {
    const fresh = { manifest: { selection: { denseBelow: 3000 } } } as unknown as LoadedModel;
    expect(crossoverOn(fresh)).toBe(process.env.TOKENBUTLER_AUTO_DENSE !== '0');
    const off = model({ denseBelow: 3000 }, false);
    expect(crossoverOn(off)).toBe(false);
    expect(stepPolicy(off, 'tokenbutler', 10)).toBe('tokenbutler');
    setCrossover(off, true);
    expect(stepPolicy(off, 'tokenbutler', 10)).toBe('dense');
  });

  it('a step whose selection is shown (highlight on, Explain) selects below the crossover, and policyUsed says so', () => {
    const m = model({ denseBelow: 3000 });
    expect(stepPolicy(m, 'tokenbutler', 10, 1, true)).toBe('tokenbutler');
    expect(policyUsed(m, 'tokenbutler', 1200, true)).toBe('tokenbutler');
    expect(policyUsed(m, 'tokenbutler', 1200, false)).toBe('dense');
    expect(stepPolicy(m, 'dense', 10, 1, true)).toBe('dense'); // select never turns dense or window into tokenbutler
    expect(stepPolicy(m, 'window', 10, 1, true)).toBe('window');
  });

  it('an override (the bench forcing the sparse step) wins until cleared', () => {
    const m = model({ denseBelow: 3000 });
    setDenseBelow(m, 0);
    expect(stepPolicy(m, 'tokenbutler', 10)).toBe('tokenbutler');
    setDenseBelow(m, undefined);
    expect(stepPolicy(m, 'tokenbutler', 10)).toBe('dense');
  });

  it('graphFeeds picks the dense graph below the crossover and the sparse one from it', () => {
    const m = model({ denseBelow: 40 });
    const below = graphFeeds(m, cacheOf(39), [7], 'tokenbutler', 16);
    expect(below.sparse).toBe(false);
    expect(below.feeds.budget).toBeUndefined();
    const at = graphFeeds(m, cacheOf(40), [7], 'tokenbutler', 16);
    expect(at.sparse).toBe(true);
    expect(Number((at.feeds.budget.data as BigInt64Array)[0])).toBe(16);
    expect(graphFeeds(m, cacheOf(39), [7, 8], 'tokenbutler', 16).sparse).toBe(true); // chunks keep the sparse graph
    expect(graphFeeds(m, cacheOf(39), [7], 'tokenbutler', 16, undefined, true).sparse).toBe(true); // its selection is shown
  });
});

describe('crossover in the engine (the default model, below its crossover)', () => {
  const modelDir = path.resolve(__dirname, '../../../models/default');
  const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
  const context: ContextPayload = {
    files: [{ file: 'src/geometry.ts', text: 'export function distance(a: number, b: number): number {\n  return Math.abs(a - b);\n}\n'.repeat(30) }],
    current: { file: 'src/main.ts', prefix: 'import { distance } from "./geometry";\nconst d = dist', suffix: '\n' },
  };
  let engine: Engine;

  beforeAll(async () => {
    engine = new Engine();
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 32, maxContextTokens: 4096, maxNewTokens: 6 }, hooks);
  }, 60_000);

  it('a completion decodes dense unless its chosen context is shown; policy reports what ran', async () => {
    expect(denseBelow(engine.loaded!)).toBeGreaterThan(0);
    const fast = await engine.complete({ context, multiline: false }, hooks);
    expect(fast.contextTokens).toBeLessThan(denseBelow(engine.loaded!));
    expect(fast.policy).toBe('dense');
    const shown = await engine.complete({ context, multiline: false, chosen: true }, hooks);
    expect(shown.policy).toBe('tokenbutler');
    if (shown.generatedTokens > 1) expect(shown.attended).toBeLessThan(shown.contextTokens); // it selected
  }, 120_000);

  it('Explain always selects: its spans are TokenButler\'s choice', async () => {
    const r = await engine.explain({ context, selection: 'ance(1, 2);\nconst e = distance(3, 4);' }, hooks);
    expect(r.policy).toBe('tokenbutler');
    expect(r.chosen.some((c) => c.file === 'src/geometry.ts' && c.heads > 0)).toBe(true); // heads count selections, not the n-gram lookup
  }, 120_000);
});
