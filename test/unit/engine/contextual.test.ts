// ShadowLLM contextual sparsity (issue 29): the setting's parsing and keep counts; the engine on a
// real model folder with and without the variant graphs (models/default ships them when
// manifest.shadow names them): keeps of everything and prefill chunks equal the plain graphs, a
// decode step keeps exactly the requested heads and neurons, a folder without a predictor runs
// dense in heads and neurons and says so once.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateContextual, contextualOf } from '../../../src/engine/contextual';
import { setCrossover } from '../../../src/engine/crossover';
import { Engine, Hooks } from '../../../src/engine/engine';
import { contextualLabel, keptCounts, parseContextual } from '../../../src/shared/contextual';
import type { ContextPayload, EngineConfig, EngineEvent } from '../../../src/shared/protocol';

const modelDir = path.resolve(__dirname, '../../../models/default');
const manifest = JSON.parse(readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));
const shipsShadow = manifest.shadow !== undefined;

describe('the setting', () => {
  it('keeps the share of heads and neurons the mode names, at least one, everything else whole', () => {
    expect(keptCounts({ mode: 'neurons', keep: 0.75 }, 4, 704)).toEqual({ heads: 4, neurons: 528 });
    expect(keptCounts({ mode: 'heads', keep: 0.5 }, 4, 704)).toEqual({ heads: 2, neurons: 704 });
    expect(keptCounts({ mode: 'both', keep: 0.25 }, 14, 4864)).toEqual({ heads: 4, neurons: 1216 });
    expect(keptCounts({ mode: 'both', keep: 0.01 }, 4, 64)).toEqual({ heads: 1, neurons: 1 });
    expect(keptCounts({ mode: 'off', keep: 0.1 }, 4, 704)).toEqual({ heads: 4, neurons: 704 });
    expect(keptCounts({ mode: 'both', keep: 1 }, 4, 704)).toEqual({ heads: 4, neurons: 704 });
  });

  it('parses MODE[:KEEP] and labels it back', () => {
    for (const raw of ['off', 'heads:0.5', 'neurons:0.75', 'both:1', 'neurons:0.125']) {
      const cs = parseContextual(raw);
      expect(typeof cs).toBe('object');
      expect(contextualLabel(cs as Exclude<typeof cs, string>)).toBe(raw);
    }
    expect(parseContextual('both')).toEqual({ mode: 'both', keep: 0.75 });
    for (const bad of ['', 'on', 'neurons:', 'neurons:0', 'neurons:1.01', 'neurons:abc', 'neurons:1e-1', 'off:1', 'heads:0.5:2']) {
      expect(typeof parseContextual(bad)).toBe('string');
    }
  });

  it('an engine configuration without the fields is off', () => {
    expect(contextualOf({})).toEqual({ mode: 'off', keep: 0.75 });
    expect(contextualOf({ contextualSparsity: 'heads', contextualKeep: 0.5 })).toEqual({ mode: 'heads', keep: 0.5 });
  });
});

const files = [{ file: 'src/geometry.ts', text: 'export class Point {\n  constructor(public x: number, public y: number) {}\n  norm(): number {\n    return Math.hypot(this.x, this.y);\n  }\n}\n'.repeat(6) }];
const ctx = (prefix: string): ContextPayload => ({ files, current: { file: 'src/main.ts', prefix, suffix: '\n' } });
const config = (dir: string, extra: Partial<EngineConfig> = {}): EngineConfig => ({
  modelDir: dir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 4096, maxNewTokens: 8, ...extra,
});

describe('a model folder without a ShadowLLM predictor', () => {
  let dir: string;
  beforeAll(() => {
    // models/default as a folder that names no variant graphs
    dir = mkdtempSync(path.join(tmpdir(), 'tb-noshadow-'));
    const m = { ...manifest, files: { ...manifest.files } };
    if (m.shadow) {
      for (const f of Object.values(m.shadow.graphs as Record<string, string>)) delete m.files[f];
      delete m.shadow;
    }
    for (const f of Object.keys(m.files)) copyFileSync(path.join(modelDir, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  });

  it('completes with the setting on exactly as with it off, and says so once', async () => {
    const logs: string[] = [];
    const hooks: Hooks = { emit: (e: EngineEvent) => { if (e.type === 'log') logs.push(e.message); }, cancelled: () => false };
    const on = new Engine();
    await on.configure(config(dir, { contextualSparsity: 'both', contextualKeep: 0.5 }), hooks);
    await on.configure(config(dir, { contextualSparsity: 'neurons', contextualKeep: 0.5, budget: 32 }), hooks);
    const a = await on.complete({ context: ctx('const p = new Point(1, 2);\nconst n = p.') }, hooks);
    const off = new Engine();
    await off.configure(config(dir), { emit: () => undefined, cancelled: () => false });
    const b = await off.complete({ context: ctx('const p = new Point(1, 2);\nconst n = p.'), budget: 32 }, { emit: () => undefined, cancelled: () => false });
    expect(a.completion).toBe(b.completion);
    expect(on.loaded!.contextual).toBeUndefined();
    const said = logs.filter((l) => l.includes('no ShadowLLM predictor'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/contextual sparsity \(both\) is off for model .*: the model folder has no ShadowLLM predictor \(manifest\.shadow\); it runs dense in heads and neurons/);
  }, 120_000);
});

describe.runIf(shipsShadow)('a model folder whose ShadowLLM graph is corrupt', () => {
  it('loads (the variants are checked on first use), then runs the plain graphs with the setting on and says why once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-badshadow-'));
    for (const f of Object.keys(manifest.files)) copyFileSync(path.join(modelDir, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const bad = path.join(dir, manifest.shadow.graphs.sparse);
    const bytes = readFileSync(bad);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(bad, bytes);
    const logs: string[] = [];
    const hooks: Hooks = { emit: (e: EngineEvent) => { if (e.type === 'log') logs.push(e.message); }, cancelled: () => false };
    const e = new Engine();
    await e.configure(config(dir), hooks);
    expect(logs.some((l) => l.includes('did not load'))).toBe(false);
    await e.configure(config(dir, { contextualSparsity: 'neurons' }), hooks);
    await e.configure(config(dir, { contextualSparsity: 'neurons', contextualKeep: 0.5 }), hooks);
    expect(e.loaded!.contextual).toBeUndefined();
    const said = logs.filter((l) => l.includes('did not load'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/its ShadowLLM graphs did not load \(model file sparse\.shadow\.int8\.onnx .* is corrupt/);
    const r = await e.complete({ context: ctx('const p = new Point(1, 2);\nconst n = p.') }, hooks);
    expect(r.contextual).toBeUndefined();
  }, 120_000);
});

describe.runIf(shipsShadow)('the variant graphs of models/default', () => {
  const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
  let engine: Engine;
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  beforeAll(async () => {
    engine = new Engine();
    await engine.configure(config(modelDir), hooks);
    setCrossover(engine.loaded!, false); // tokenbutler selects at this short context too: both graphs are checked
    await engine.prefill(engine.loaded!.tokenizer.encode(files[0].text.repeat(4)).ids, hooks);
  }, 60_000);
  afterAll(() => engine.kv?.truncate(0));

  /** The plain graph's and the variant's logits for `ids` after the cache, with these keeps. */
  async function both(ids: number[], policy: 'dense' | 'tokenbutler', heads: number, neurons: number) {
    const m = engine.loaded!;
    const a = (await activateContextual(m, { mode: 'both', keep: 0.5 }, () => undefined))!;
    const { sparse, feeds } = engine.feedsFor(ids, policy, 64);
    const plain = (await (sparse ? m.sparse : m.dense).run(feeds)) as Record<string, ort.Tensor>;
    const keeps = { ffn_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(neurons)), [1]), head_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(heads)), [1]) };
    const variant = (await (sparse ? a.sparse : a.dense).run({ ...feeds, ...keeps })) as Record<string, ort.Tensor>;
    return { sparse, plain, variant, a };
  }

  it.each(['dense', 'tokenbutler'] as const)('%s: keeping every head and neuron gives the plain graph\'s logits', async (policy) => {
    const m = engine.loaded!;
    const { sparse, plain, variant } = await both([42], policy, m.config.n_heads, m.config.ffn_dim!);
    expect(sparse).toBe(policy === 'tokenbutler');
    expect(maxDiff(plain.logits.data as Float32Array, variant.logits.data as Float32Array)).toBeLessThan(1e-4);
  }, 60_000);

  it('a prefill chunk ignores the keeps', async () => {
    const { plain, variant } = await both([42, 43, 44, 45], 'dense', 1, 1);
    expect(maxDiff(plain.logits.data as Float32Array, variant.logits.data as Float32Array)).toBeLessThan(1e-4);
  }, 60_000);

  it.each(['dense', 'tokenbutler'] as const)('%s: a decode step computes exactly the kept heads and neurons, and it changes the logits', async (policy) => {
    const m = engine.loaded!;
    const heads = Math.max(1, m.config.n_heads / 2);
    const neurons = Math.round(m.config.ffn_dim! / 2);
    const { plain, variant } = await both([42], policy, heads, neurons);
    expect(maxDiff(plain.logits.data as Float32Array, variant.logits.data as Float32Array)).toBeGreaterThan(1e-3);
    expect(Array.from(variant.logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    if (variant.shadow_kept) {
      const kept = Array.from(variant.shadow_kept.data as BigInt64Array, Number);
      expect(kept).toEqual(manifest.shadow.layers.flatMap(() => [heads, neurons]));
    }
  }, 60_000);

  it('the engine runs decode steps through the variants while the setting is on, and Explain says what they kept', async () => {
    const e = new Engine();
    await e.configure(config(modelDir, { contextualSparsity: 'neurons', contextualKeep: 0.5 }), hooks);
    expect(e.loaded!.contextual).toMatchObject({ mode: 'neurons', heads: e.loaded!.config.n_heads, neurons: Math.round(e.loaded!.config.ffn_dim! / 2) });
    const r = await e.explain({ context: ctx('const p = new Point(1, 2);\n'), selection: 'const n = p.norm();' }, hooks);
    expect(r.contextual).toEqual({ mode: 'neurons', layers: manifest.shadow.layers, heads: { kept: 4, of: 4 }, neurons: { kept: 352, of: 704 } });
    await e.configure(config(modelDir), hooks);
    expect(e.loaded!.contextual).toBeUndefined();
    const plain = await e.explain({ context: ctx('const p = new Point(1, 2);\n'), selection: 'const n = p.norm();' }, hooks);
    expect(plain.contextual).toBeUndefined();
    expect(plain.meanSurprisalBits).not.toBe(r.meanSurprisalBits);
  }, 120_000);
});
