// Python reference vs TypeScript engine on the same tiny exported model: same logits after a
// chunked prefill, same logits and same selected tokens for sparse (tokenbutler) decode steps,
// same token ids from the same tokenizer.json.
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, Hooks, StepOut, selectionOf } from '../../../src/engine/engine';

const root = path.resolve(__dirname, '../../..');
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };

interface Ref {
  prefill_ids: number[];
  prefill_logits: number[];
  steps: { id: number; logits: number[]; selected: Record<string, number[][]> }[];
  chunk: { ids: number[]; logits: number[]; selected: Record<string, number[][]> };
  reuse_step: { id: number; logits: number[]; selected: Record<string, number[][]>; differs_from_fresh: boolean };
  neighbor_step: { id: number; logits: number[]; selected: Record<string, number[][]>; differs_from_plain: boolean };
  tokenizer: { text: string; ids: number[] | null }[];
}


function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Compares an engine step's selection (per consumer layer and KV head, sorted) with the
 *  reference's; every row must have the reference's length. */
function matchSelection(out: StepOut, want: Record<string, number[][]>): { same: number; total: number } {
  let same = 0;
  let total = 0;
  out.selected!.forEach((sel, i) => {
    const rows = want[String(i + 1)];
    for (let h = 0; h < rows.length; h++) {
      const got = Array.from(sel.idx.slice(h * sel.k, (h + 1) * sel.k), Number).sort((a, b) => a - b);
      expect(got.length).toBe(rows[h].length);
      got.forEach((g, j) => {
        total++;
        if (g === rows[h][j]) same++;
      });
    }
  });
  return { same, total };
}

// 'plain': the graphs without pointer heads; 'pointer': pointer heads in every layer and the n-gram lookup, so the engine
// also feeds the cache's token ids (ctx_ids) and the logits are the pointer mixture's; 'pointer-int8kv': the same with the
// compact KV cache (config.kv_cache "int8": u8 K, int8 V and their row steps, docs/graph-contract.md), as the default model.
describe.each(['plain', 'pointer', 'pointer-int8kv'])('graph contract parity (PyTorch reference vs onnxruntime-node engine), %s model', (variant) => {
  let dir: string;
  let ref: Ref;
  let engine: Engine;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tb-parity-'));
    const flags = { plain: [], pointer: ['--pointer'], 'pointer-int8kv': ['--pointer', '--int8-kv'] }[variant]!;
    const args = [path.join(root, 'training/tests/make_parity_fixture.py'), dir, ...flags];
    execFileSync('python3', args, { stdio: 'inherit' });
    ref = JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8'));
    engine = new Engine();
    await engine.configure({ modelDir: dir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 6, maxContextTokens: 4096, maxNewTokens: 8 }, hooks);
    expect(engine.loaded!.pointer).toBe(variant !== 'plain');
    expect(engine.kv!.form).toBe(variant === 'pointer-int8kv' ? 'int8' : 'f32');
  }, 120_000);

  it('chunked dense prefill gives the reference logits', async () => {
    const r = await engine.prefill(ref.prefill_ids, hooks);
    expect(r.prefilled).toBe(ref.prefill_ids.length);
    expect(maxAbsDiff(r.logits, ref.prefill_logits)).toBeLessThan(2e-3);
  });

  it('sparse decode steps select the same tokens and give the same logits; a step re-reading the last selection (prediction interval) and one with neighbour fetch too', async () => {
    let same = 0;
    let total = 0;
    let last: BigInt64Array | undefined;
    const seq = [...ref.prefill_ids];
    let lookups = 0;
    for (const s of [...ref.steps, ref.reuse_step, ref.neighbor_step]) {
      const out = await engine.step([s.id], 'tokenbutler', 6, s === ref.reuse_step ? last : undefined, false, s === ref.neighbor_step ? 2 : 1);
      seq.push(s.id);
      last = selectionOf(out);
      expect(maxAbsDiff(out.logits, s.logits)).toBeLessThan(2e-3);
      expect(out.selected).toBeDefined();
      // the n-gram lookup's highlight outputs: keys whose preceding token is the one just fed, mass <= 1
      expect(out.lookup !== undefined).toBe(variant !== 'plain');
      if (out.lookup) {
        let mass = 0;
        out.lookup.pos.forEach((p, i) => {
          expect(seq[Number(p) - 1]).toBe(s.id);
          mass += out.lookup!.w[i];
        });
        expect(mass).toBeLessThanOrEqual(1 + 1e-5);
        lookups += out.lookup.pos.length;
      }
      const m = matchSelection(out, s.selected);
      if (s === ref.neighbor_step) expect(m.same).toBe(m.total);
      same += m.same;
      total += m.total;
    }
    expect(total).toBeGreaterThan(0);
    expect(same / total).toBeGreaterThanOrEqual(0.99);
    expect(ref.reuse_step.differs_from_fresh).toBe(true); // so the reuse path is what matched
    expect(ref.neighbor_step.differs_from_plain).toBe(true); // so neighbour fetch is what matched
    if (variant !== 'plain') expect(lookups).toBeGreaterThan(0);
  });

  it('a sparse prefill chunk (S > 1, one selection per chunk) selects the same tokens and gives the same logits', async () => {
    const out = await engine.step(ref.chunk.ids, 'tokenbutler', 6);
    expect(maxAbsDiff(out.logits, ref.chunk.logits)).toBeLessThan(2e-3);
    const { same, total } = matchSelection(out, ref.chunk.selected);
    expect(total).toBeGreaterThan(0);
    expect(same / total).toBeGreaterThanOrEqual(0.99);
  });

  it('a re-sent identical context reuses the whole cache', async () => {
    const ids = ref.prefill_ids.slice(0, 100);
    await engine.prefill(ids, hooks);
    const again = await engine.prefill(ids, hooks);
    expect(again.prefilled).toBe(0);
    const edited = [...ids.slice(0, 90), ids[90] === 7 ? 8 : 7, ...ids.slice(91)]; // a token that really differs (fixture ids are drawn from a small range)
    const r = await engine.prefill(edited, hooks);
    expect(r.reused).toBe(90);
    expect(r.prefilled).toBe(10);
  });

  it('the TypeScript tokenizer produces the Python ids and round-trips exactly', () => {
    const tok = engine.loaded!.tokenizer;
    for (const s of ref.tokenizer) {
      const enc = tok.encode(s.text);
      if (s.ids) expect(enc.ids).toEqual(s.ids);
      expect(tok.decode(enc.ids)).toBe(s.text);
      expect(enc.offsets[enc.offsets.length - 1]).toBe(s.text.length);
      // literal special-token strings in code stay plain text
      expect(enc.ids.filter((id) => id < 5)).toEqual([]);
    }
  });
});
