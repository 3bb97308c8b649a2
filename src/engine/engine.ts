// The engine: one resident context (KV cache) reused across requests; chunked dense prefill of
// only the changed tail; greedy decode where each step either attends densely or lets the
// TokenButler predictor choose, per layer and KV head, which cached tokens to read.
import * as ort from 'onnxruntime-node';
import type {
  ChosenSpan, CompleteResult, ContextPayload, EngineConfig, EngineEvent, ExplainResult, ExplainToken, Policy, PrefillMode, Sampling,
} from '../shared/protocol';
import { KvCache, commonPrefix } from './kv-cache';
import { EncodingCache, Stream, buildStream } from './layout';
import { LoadedModel, loadModel } from './model';
import { SPECIAL } from './tokenizer';
import { mulberry32 } from '../shared/random';

export const PREFILL_CHUNK = 256;
/** Sparse prefill (EngineConfig.prefill = 'sparse'): chunks that start after this many cached
 *  tokens run the TokenButler graph, all positions of a chunk sharing one selection (the chunk's
 *  mean importance query) of this many tokens per (layer, KV head) plus sinks and recent. */
export const SPARSE_PREFILL_FROM = 4096;
export const SPARSE_PREFILL_CHUNK = 128;
export const SPARSE_PREFILL_BUDGET = 2048;
/** Longest selection Explain teacher-forces (the extension sends at most 4,000 chars). */
export const MAX_EXPLAIN_TOKENS = 4096;

export interface Hooks {
  emit(e: EngineEvent): void;
  cancelled(): boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface StepOut {
  logits: Float32Array;
  selected?: { idx: BigInt64Array; w: Float32Array; k: number }[]; // per consumer layer (index l-1)
  /** n-gram lookup models: the positions the lookup copied from and the probability mass from each. */
  lookup?: { pos: BigInt64Array; w: Float32Array };
}

interface Attribution {
  score: Float64Array; // per cached token: attention weight received through selection (+ mass the n-gram lookup copied from it)
  heads: Uint16Array; // per cached token: (step, layer, head) selections
  steps: number;
}

export interface StepTimes {
  prefillMs: number;
  prefilled: number;
  reused: number;
}

export class Engine {
  private model?: LoadedModel;
  private cfg?: EngineConfig;
  private cache?: KvCache;
  private enc?: EncodingCache;
  private lastStream?: Stream;

  get loaded(): LoadedModel | undefined {
    return this.model;
  }

  get kv(): KvCache | undefined {
    return this.cache;
  }

  async configure(cfg: EngineConfig, hooks: Hooks): Promise<{ executionProvider: string; loadMs: number; model: string }> {
    const reload = !this.model || !this.cfg || this.cfg.modelDir !== cfg.modelDir || this.cfg.executionProvider !== cfg.executionProvider;
    this.cfg = cfg;
    if (reload) {
      hooks.emit({ type: 'state', state: 'loading', detail: cfg.modelDir });
      const old = this.model;
      this.model = undefined;
      this.cache = undefined;
      if (old) await Promise.all([old.dense.release(), old.sparse.release()]).catch(() => undefined);
      this.model = await loadModel(cfg.modelDir, cfg.executionProvider, (m) => hooks.emit({ type: 'log', level: 'warn', message: m }));
      this.cache = new KvCache(this.model.config);
      this.enc = new EncodingCache(this.model.tokenizer);
      hooks.emit({ type: 'log', level: 'info', message: `model ${this.model.manifest.name} loaded in ${this.model.loadMs.toFixed(0)} ms on ${this.model.executionProvider}` });
    }
    this.applyMemoryCap();
    hooks.emit({ type: 'state', state: 'ready' });
    return { executionProvider: this.model!.executionProvider, loadMs: this.model!.loadMs, model: this.model!.manifest.name };
  }

  /** The cache holds at most what one request needs: the context (the stream may exceed the cap by
   *  a header's worth), the prefill's spare rows and a completion. A lowered cap releases memory
   *  at once, keeping the cached front (the next context most likely starts the same way). */
  private applyMemoryCap(): void {
    if (!this.cache || !this.cfg) return;
    const limit = this.cfg.maxContextTokens + 32 + 64 + this.cfg.maxNewTokens;
    this.cache.limit = limit;
    if (this.cache.cap > limit) {
      this.cache.shrinkTo(Math.min(this.cache.length, this.cfg.maxContextTokens), limit);
    }
  }

  private need(): { m: LoadedModel; cache: KvCache; cfg: EngineConfig; enc: EncodingCache } {
    if (!this.model || !this.cache || !this.cfg || !this.enc) throw new Error('engine is not configured (no model loaded)');
    return { m: this.model, cache: this.cache, cfg: this.cfg, enc: this.enc };
  }

  /** The graph and inputs for running `ids` after the cache under `policy` (the bench profiles these). */
  feedsFor(ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array): { sparse: boolean; feeds: Record<string, ort.Tensor> } {
    const { m, cache } = this.need();
    const c = m.config;
    const P = cache.length;
    const sinks = m.manifest.selection?.sinks ?? 8;
    const recent = m.manifest.selection?.recent ?? 128;
    const effBudget = policy === 'window' ? 0 : budget;
    const sparse = policy !== 'dense' && P > sinks + recent + effBudget;
    cache.ensure(P + ids.length);
    const C = cache.cap;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      prev_id: new ort.Tensor('int64', BigInt64Array.of(BigInt(P ? cache.ids[P - 1] : SPECIAL.eot)), [1]),
      start_pos: new ort.Tensor('int64', BigInt64Array.of(BigInt(P)), [1]),
    };
    if (m.pointer) feeds.ctx_ids = new ort.Tensor('int64', cache.idBuf, [C]);
    for (let l = 0; l < c.n_layers; l++) {
      feeds[`past_k.${l}`] = new ort.Tensor('float32', cache.k[l], [c.n_kv_heads, C, c.head_dim]);
      feeds[`past_v.${l}`] = new ort.Tensor('float32', cache.v[l], [c.n_kv_heads, C, c.head_dim]);
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
    }
    return { sparse, feeds };
  }

  /** One graph run over `ids` appended after the cache; appends their K/V. */
  /** reuse: the previous decode step's selection (selectionOf) to attend again instead of
   *  selecting afresh (prediction interval > 1); ignored unless it fits this step. */
  async step(ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array): Promise<StepOut> {
    const { m, cache } = this.need();
    const c = m.config;
    const { sparse, feeds } = this.feedsFor(ids, policy, budget, reuse);
    const out = (await (sparse ? m.sparse : m.dense).run(feeds)) as Record<string, ort.Tensor>;
    const newK: Float32Array[] = [];
    const newV: Float32Array[] = [];
    const newIk: (Int8Array | undefined)[] = [undefined];
    const newIkSum: (Int32Array | undefined)[] = [undefined];
    for (let l = 0; l < c.n_layers; l++) {
      newK.push(out[`new_k.${l}`].data as Float32Array);
      newV.push(out[`new_v.${l}`].data as Float32Array);
      if (l > 0) {
        newIk.push(out[`new_ik.${l}`].data as Int8Array);
        newIkSum.push(out[`new_iksum.${l}`].data as Int32Array);
      }
    }
    cache.append(ids, newK, newV, newIk, newIkSum);
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

  /** Makes the cache hold exactly `ids` (reusing the longest common prefix); returns the logits
   *  after the last token. Prefill runs in chunks with cancellation and progress between them. */
  async prefill(ids: number[], hooks: Hooks, mode?: PrefillMode): Promise<{ logits: Float32Array } & StepTimes> {
    const { cache } = this.need();
    const t0 = performance.now();
    let keep = commonPrefix(cache.ids, ids);
    if (keep === ids.length) {
      const known = cache.logitsAt(keep);
      if (known) {
        cache.truncate(keep);
        return { logits: known, prefillMs: 0, prefilled: 0, reused: keep };
      }
      keep = ids.length - 1; // re-run the last token to get its logits
    }
    cache.truncate(keep);
    cache.ensure(ids.length + 64);
    const total = ids.length - keep;
    const sparseFrom = this.model!.sparseChunks && (mode ?? this.cfg?.prefill ?? 'dense') === 'sparse' ? SPARSE_PREFILL_FROM : Infinity;
    let logits: Float32Array | undefined;
    for (let at = keep; at < ids.length; ) {
      if (hooks.cancelled()) throw new CancelledError();
      const sparse = at >= sparseFrom;
      const end = Math.min(ids.length, at + (sparse ? SPARSE_PREFILL_CHUNK : PREFILL_CHUNK));
      logits = (await this.step(ids.slice(at, end), sparse ? 'tokenbutler' : 'dense', SPARSE_PREFILL_BUDGET)).logits;
      if (total > PREFILL_CHUNK) hooks.emit({ type: 'progress', done: end - keep, total });
      at = end;
    }
    cache.remember(ids.length, logits!, true);
    return { logits: logits!, prefillMs: performance.now() - t0, prefilled: total, reused: keep };
  }

  private stream(ctx: ContextPayload): Stream {
    const { m, cfg, enc } = this.need();
    const s = buildStream(ctx, m.tokenizer, enc, cfg.maxContextTokens);
    this.lastStream = s;
    return s;
  }

  async warmup(ctx: ContextPayload, hooks: Hooks): Promise<{ contextTokens: number; prefilledTokens: number; prefillMs: number }> {
    const s = this.stream(ctx);
    // prefill everything but the current file's prefix tail: that part changes with each keystroke
    hooks.emit({ type: 'state', state: 'prefilling' });
    try {
      const { cfg } = this.need();
      const r = await this.prefill(s.ids, hooks, prefillModeFor(cfg.policy, cfg.prefill));
      return { contextTokens: s.ids.length, prefilledTokens: r.prefilled, prefillMs: r.prefillMs };
    } finally {
      hooks.emit({ type: 'state', state: 'ready' });
    }
  }

  async complete(
    req: { context: ContextPayload; policy?: Policy; budget?: number; maxNewTokens?: number; multiline?: boolean; sampling?: Sampling; prefill?: PrefillMode;
      predictionInterval?: number },
    hooks: Hooks,
  ): Promise<CompleteResult> {
    const { m, cfg, cache } = this.need();
    const t0 = performance.now();
    const policy = req.policy ?? cfg.policy;
    const budget = req.budget ?? cfg.budget;
    const maxNew = req.maxNewTokens ?? cfg.maxNewTokens;
    const multiline = req.multiline ?? true;
    const s = this.stream(req.context);
    const prefillMode = prefillModeFor(policy, req.prefill ?? cfg.prefill);
    const pre = await this.prefill(s.ids, hooks, prefillMode);
    const firstTokenMs = performance.now() - t0;
    const attr = newAttribution(s.ids.length);
    const out: number[] = [];
    let logits = pre.logits;
    let stopReason: CompleteResult['stopReason'] = 'max-tokens';
    let text = '';
    const baseIndent = indentOf(lastLine(req.context.current.prefix));
    const sinks = m.manifest.selection?.sinks ?? 8;
    const recent = m.manifest.selection?.recent ?? 128;
    const tDecode = performance.now();
    const rand = mulberry32(req.sampling?.seed ?? 0);
    const interval = Math.max(1, Math.floor(req.predictionInterval ?? cfg.predictionInterval ?? 1));
    let stepNo = 0;
    let lastSelection: BigInt64Array | undefined;
    let attended = 0;
    for (let i = 0; i < maxNew; i++) {
      const next = pick(logits, req.sampling, rand);
      if (next === SPECIAL.eot || next === SPECIAL.fileSep || next === SPECIAL.fimPrefix || next === SPECIAL.fimSuffix || next === SPECIAL.fimMiddle) {
        stopReason = 'eot';
        break;
      }
      out.push(next);
      text = m.tokenizer.decode(out);
      const stop = lineStop(text, multiline, baseIndent);
      if (stop) {
        stopReason = stop;
        break;
      }
      if (hooks.cancelled()) {
        stopReason = 'cancelled';
        break;
      }
      if (i === maxNew - 1) break;
      const reuse = interval > 1 && stepNo % interval !== 0 ? lastSelection : undefined;
      const r = await this.step([next], policy, budget, reuse);
      stepNo++;
      if (interval > 1) lastSelection = selectionOf(r);
      logits = r.logits;
      attended = accumulate(attr, r, s.ids.length, sinks, recent) ?? cache.length;
      if (repeats(out)) {
        stopReason = 'repetition';
        break;
      }
    }
    if (stopReason === 'cancelled') throw new CancelledError();
    const decodeMs = performance.now() - tDecode;
    return {
      completion: text,
      policy,
      budget,
      prefill: prefillMode,
      predictionInterval: interval,
      contextTokens: s.ids.length,
      reusedTokens: pre.reused,
      prefilledTokens: pre.prefilled,
      generatedTokens: out.length,
      attended,
      timings: {
        loadMs: 0,
        prefillMs: pre.prefillMs,
        firstTokenMs,
        decodeMsPerToken: out.length > 1 ? decodeMs / (out.length - 1) : 0,
      },
      chosen: spans(attr, s),
      stopReason,
    };
  }

  async explain(req: { context: ContextPayload; selection: string; policy?: Policy; budget?: number }, hooks: Hooks): Promise<ExplainResult> {
    const { m, cfg } = this.need();
    const policy = req.policy ?? cfg.policy;
    const budget = req.budget ?? cfg.budget;
    // Each selection token is one decode step and one cache row: bound both before any work.
    const sel = m.tokenizer.encode(req.selection);
    if (sel.ids.length > MAX_EXPLAIN_TOKENS) throw new Error(`selection too long to explain (${sel.ids.length} tokens; at most ${MAX_EXPLAIN_TOKENS})`);
    const s = this.stream(req.context);
    let logits = (await this.prefill(s.ids, hooks)).logits;
    const attr = newAttribution(s.ids.length);
    const tokens: ExplainToken[] = [];
    let bits = 0;
    for (let i = 0; i < sel.ids.length; i++) {
      if (hooks.cancelled()) throw new CancelledError();
      const id = sel.ids[i];
      const lp = logSoftmaxAt(logits, id);
      tokens.push({ text: req.selection.slice(sel.offsets[i], sel.offsets[i + 1]), logprob: lp, top1: argmax(logits) === id });
      bits += -lp / Math.LN2;
      if (i < sel.ids.length - 1) {
        const r = await this.step([id], policy, budget);
        logits = r.logits;
        accumulate(attr, r, s.ids.length, m.manifest.selection?.sinks ?? 8, m.manifest.selection?.recent ?? 128);
      }
    }
    return { tokens, meanSurprisalBits: tokens.length ? bits / tokens.length : 0, policy, budget, chosen: spans(attr, s) };
  }
}

function newAttribution(n: number): Attribution {
  return { score: new Float64Array(n), heads: new Uint16Array(n), steps: 0 };
}

/** Adds one sparse step's selection to the per-token attribution; returns tokens attended per head. */
function accumulate(a: Attribution, r: StepOut, contextLen: number, sinks: number, recent: number): number | undefined {
  if (r.lookup) {
    // what the n-gram lookup copied from counts as chosen context too (any position: it reads the whole context)
    for (let i = 0; i < r.lookup.pos.length; i++) {
      const j = Number(r.lookup.pos[i]);
      if (j < contextLen) a.score[j] += r.lookup.w[i];
    }
    if (!r.selected) a.steps++;
  }
  if (!r.selected) return undefined;
  const windowFrom = contextLen - recent; // the recent window is forced in, not chosen
  a.steps++;
  let k = 0;
  for (const sel of r.selected) {
    k = sel.k;
    for (let i = 0; i < sel.idx.length; i++) {
      const j = Number(sel.idx[i]);
      if (j < sinks || j >= windowFrom) continue; // sinks and the window are forced; generated tokens are not context
      a.score[j] += sel.w[i];
      if (a.heads[j] < 65535) a.heads[j]++;
    }
  }
  return k;
}

/** The tokens that received most of the attention the selection gave to context (up to 60% of it,
 *  at most MAX_CHOSEN tokens), merged into file spans, strongest first. */
const MAX_CHOSEN = 64;
function spans(a: Attribution, s: Stream): ChosenSpan[] {
  if (!a.steps) return [];
  const order: number[] = [];
  let total = 0;
  for (let j = 0; j < a.score.length; j++) {
    if (a.score[j] > 0 && s.fileOf[j] >= 0) {
      order.push(j);
      total += a.score[j];
    }
  }
  if (!order.length) return [];
  order.sort((x, y) => a.score[y] - a.score[x]);
  const max = a.score[order[0]];
  const keep: number[] = [];
  let mass = 0;
  for (const j of order) {
    if (keep.length >= MAX_CHOSEN || mass >= 0.6 * total) break;
    keep.push(j);
    mass += a.score[j];
  }
  keep.sort((x, y) => x - y);
  const out: ChosenSpan[] = [];
  let cur: ChosenSpan | undefined;
  let last = -2;
  for (const j of keep) {
    const file = s.files[s.fileOf[j]];
    const score = a.score[j] / max;
    if (cur && cur.file === file && j === last + 1) {
      cur.end = s.end[j];
      cur.score = Math.max(cur.score, score);
      cur.heads = Math.max(cur.heads, a.heads[j]);
    } else {
      cur = { file, start: s.start[j], end: s.end[j], score, heads: a.heads[j] };
      out.push(cur);
    }
    last = j;
  }
  return out.sort((x, y) => y.score - x.score);
}

/** Greedy decoding of a small model can loop; stop when the last 4..12 tokens repeat 3 times. */
function repeats(out: number[]): boolean {
  for (let n = 4; n <= 12; n++) {
    if (out.length < 3 * n) return false;
    let same = true;
    for (let i = 1; i <= n && same; i++) {
      const a = out[out.length - i];
      same = a === out[out.length - i - n] && a === out[out.length - i - 2 * n];
    }
    if (same) return true;
  }
  return false;
}

/** Greedy unless sampling asks for a temperature; then nucleus sampling over the top-p mass. */
function pick(logits: Float32Array, s: Sampling | undefined, rand: () => number): number {
  if (!s || !(s.temperature > 0)) return argmax(logits);
  const max = logits[argmax(logits)];
  const ids = Array.from(logits.keys());
  const p = ids.map((i) => Math.exp((logits[i] - max) / s.temperature));
  ids.sort((a, b) => p[b] - p[a]);
  const total = p.reduce((x, y) => x + y, 0);
  const cut = (s.topP ?? 1) * total;
  let acc = 0;
  let n = 0;
  while (n < ids.length && acc < cut) acc += p[ids[n++]];
  let r = rand() * acc;
  for (let i = 0; i < n; i++) {
    r -= p[ids[i]];
    if (r <= 0) return ids[i];
  }
  return ids[n - 1];
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function logSoftmaxAt(x: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return x[id] - max - Math.log(sum);
}

function lastLine(text: string): string {
  return text.slice(text.lastIndexOf('\n') + 1);
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

const MAX_LINES = 16;

/** Stop rules on the decoded text: single-line mode ends at the first newline after content;
 *  multi-line ends after MAX_LINES or when a finished line dedents below the cursor's block. */
function lineStop(text: string, multiline: boolean, baseIndent: number): CompleteResult['stopReason'] | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  if (!multiline) return text.slice(0, nl).trim() ? 'max-lines' : undefined;
  const lines = text.split('\n');
  if (lines.length > MAX_LINES) return 'max-lines';
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i];
    if (l.trim() && indentOf(l) < baseIndent) return 'block-end';
  }
  return undefined;
}

/** Sparse prefill only serves the tokenbutler policy (dense and window are the exact and the
 *  baseline paths); `requested` defaults to dense. */
function prefillModeFor(policy: Policy, requested: PrefillMode | undefined): PrefillMode {
  return policy === 'tokenbutler' ? requested ?? 'dense' : 'dense';
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
