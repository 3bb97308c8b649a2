// One graph run (docs/graph-contract.md): the feeds for running `ids` after the cached context
// under a policy, and the bookkeeping of its outputs (new K/V and importance keys appended to the
// cache, logits of the last position, the selection each (layer, KV head) read).
import * as ort from 'onnxruntime-node';
import type { Policy } from '../shared/protocol';
import { stepPolicy } from './crossover';
import type { KRows, KvCache, VRows } from './kv-cache';
import type { LoadedModel } from './model';

export interface StepOut {
  logits: Float32Array;
  selected?: { idx: BigInt64Array; w: Float32Array; k: number }[]; // per consumer layer (index l-1)
  /** n-gram lookup models: the positions the lookup copied from and the probability mass from each. */
  lookup?: { pos: BigInt64Array; w: Float32Array };
}

/** The graph and inputs for running `ids` after the cache under `policy`. The sparse graph runs
 *  only when the cache holds more than the policy would read anyway (sinks + recent + budget).
 *  select: the caller shows this step's selection, so tokenbutler selects below the crossover too.
 *  interval: the caller's prediction interval; above 1 a fresh decode selection also fetches the
 *  neighbours of the slots it chooses, as the steps after re-read it (graphs without the input ignore it). */
export function graphFeeds(m: LoadedModel, cache: KvCache, ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array, select = false, interval = 1): { sparse: boolean; feeds: Record<string, ort.Tensor> } {
  const c = m.config;
  const P = cache.length;
  policy = stepPolicy(m, policy, P, ids.length, select, interval); // tokenbutler below the crossover runs dense (crossover.ts)
  const { sinks, recent } = m.selection;
  const effBudget = policy === 'window' ? 0 : budget;
  const sparse = policy !== 'dense' && P > sinks + recent + effBudget;
  cache.ensure(P + ids.length);
  const C = cache.cap;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    prev_id: new ort.Tensor('int64', BigInt64Array.of(BigInt(P ? cache.ids[P - 1] : m.specials.eot)), [1]),
    start_pos: new ort.Tensor('int64', BigInt64Array.of(BigInt(P)), [1]),
  };
  if (m.pointer) feeds.ctx_ids = new ort.Tensor('int64', cache.idBuf, [C]);
  const int8 = cache.form === 'int8'; // the compact cache: u8 K, int8 V, f32 row steps [Hkv, C]
  for (let l = 0; l < c.n_layers; l++) {
    feeds[`past_k.${l}`] = new ort.Tensor(int8 ? 'uint8' : 'float32', cache.k[l], [c.n_kv_heads, C, c.head_dim]);
    feeds[`past_v.${l}`] = new ort.Tensor(int8 ? 'int8' : 'float32', cache.v[l], [c.n_kv_heads, C, c.head_dim]);
    if (int8) {
      feeds[`past_ks.${l}`] = new ort.Tensor('float32', cache.ks[l], [c.n_kv_heads, C]);
      feeds[`past_vs.${l}`] = new ort.Tensor('float32', cache.vs[l], [c.n_kv_heads, C]);
    }
  }
  if (sparse) {
    for (let l = 1; l < c.n_layers; l++) {
      feeds[`past_ik_t.${l}`] = new ort.Tensor('int8', cache.ik[l], [c.n_kv_heads, c.imp_dim, C]);
      feeds[`past_iksum.${l}`] = new ort.Tensor('int32', cache.ikSum[l], [c.n_kv_heads, C]);
    }
    feeds.budget = new ort.Tensor('int64', BigInt64Array.of(BigInt(effBudget)), [1]);
    feeds.sinks = new ort.Tensor('int64', BigInt64Array.of(BigInt(sinks)), [1]);
    feeds.recent = new ort.Tensor('int64', BigInt64Array.of(BigInt(recent)), [1]);
    if (m.sparseChunks) {
      const rows = (c.n_layers - 1) * c.n_kv_heads;
      const use = reuse !== undefined && ids.length === 1 && reuse.length === rows * Math.min(P - 1, sinks + recent + effBudget);
      feeds.reuse_selection = new ort.Tensor('bool', Uint8Array.of(use ? 1 : 0), [1]);
      feeds.prev_selected = use ? new ort.Tensor('int64', reuse!, [rows, reuse!.length / rows]) : new ort.Tensor('int64', new BigInt64Array(0), [rows, 0]);
    }
    if (m.neighbors) feeds.neighbors = new ort.Tensor('bool', Uint8Array.of(interval > 1 && ids.length === 1 ? 1 : 0), [1]);
  }
  if (m.contextual) Object.assign(feeds, m.contextual.feeds);
  return { sparse, feeds };
}

/** Runs `ids` after the cache and appends their K/V (and importance keys) to it.
 *  reuse: the previous decode step's selection (selectionOf) to attend again instead of selecting
 *  afresh (prediction interval > 1); ignored unless it fits this step. select, interval: as graphFeeds. */
export async function runStep(m: LoadedModel, cache: KvCache, ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array, select = false, interval = 1): Promise<StepOut> {
  const c = m.config;
  const { sparse, feeds } = graphFeeds(m, cache, ids, policy, budget, reuse, select, interval);
  const g = m.contextual ?? m; // contextual sparsity: the ShadowLLM variants of the same graphs
  const out = (await (sparse ? g.sparse : g.dense).run(feeds)) as Record<string, ort.Tensor>;
  const newK: KRows[] = [];
  const newV: VRows[] = [];
  const newKs: Float32Array[] = [];
  const newVs: Float32Array[] = [];
  const newIk: (Int8Array | undefined)[] = [undefined];
  const newIkSum: (Int32Array | undefined)[] = [undefined];
  for (let l = 0; l < c.n_layers; l++) {
    newK.push(out[`new_k.${l}`].data as KRows);
    newV.push(out[`new_v.${l}`].data as VRows);
    if (cache.form === 'int8') {
      newKs.push(out[`new_ks.${l}`].data as Float32Array);
      newVs.push(out[`new_vs.${l}`].data as Float32Array);
    }
    if (l > 0) {
      newIk.push(out[`new_ik.${l}`].data as Int8Array);
      newIkSum.push(out[`new_iksum.${l}`].data as Int32Array);
    }
  }
  cache.append(ids, newK, newV, newIk, newIkSum, newKs, newVs);
  const result: StepOut = { logits: out.logits.data as Float32Array };
  if (out.lookup_pos) result.lookup = { pos: out.lookup_pos.data as BigInt64Array, w: out.lookup_w.data as Float32Array };
  if (sparse) {
    result.selected = [];
    for (let l = 1; l < c.n_layers; l++) {
      const t = out[`selected.${l}`];
      result.selected.push({ idx: t.data as BigInt64Array, w: out[`selected_w.${l}`].data as Float32Array, k: t.dims[1] as number });
    }
  }
  cache.remember(cache.length, result.logits);
  return result;
}

/** A sparse step's selection as the graph's `prev_selected` input ([(L-1)·Hkv, k], layer-major). */
export function selectionOf(r: StepOut): BigInt64Array | undefined {
  if (!r.selected?.length) return undefined;
  const out = new BigInt64Array(r.selected.reduce((n, s) => n + s.idx.length, 0));
  let at = 0;
  for (const s of r.selected) {
    out.set(s.idx, at);
    at += s.idx.length;
  }
  return out;
}
