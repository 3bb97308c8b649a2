// The engine: one resident context (KV cache) reused across requests, and a small second cache for
// the quick answers' window of the current file (quick-context.ts); chunked dense prefill of
// only the changed tail; greedy decode where each step either attends densely or lets the
// TokenButler predictor choose, per layer and KV head, which cached tokens to read.
import type * as ort from 'onnxruntime-node';
import type { CompleteResult, ContextPayload, ExplainMonitor, EngineConfig, EngineEvent, ExplainResult, ExplainToken, Policy, PrefillMode } from '../shared/protocol';
import { accumulate, newAttribution, spans } from './attribution';
import { activateContextual, contextualOf, contextualReport, releaseContextual } from './contextual';
import { policyUsed } from './crossover';
import { argmax, logSoftmaxAt, noPadding } from './decode/sampling';
import { decodeFrom, syntaxRetry, tokenAtCut, type DecodeDeps } from './decode/generate';
import type { CompleteRequest } from './complete-request';
import { indentOf, lastLine, USELESS_LINE, trimAtStop, uselessAt } from './decode/stop-rules';
import { KvCache, commonPrefix } from './kv-cache';
import { EncodingCache, Stream, buildStream } from './layout';
import { LoadedModel, loadModel } from './model';
import { Monitors, serviceFileSet, serviceText, type MonitorSession } from './monitors/monitor';
import { healFor, healedDecode, TOKEN_HEALING, vocabularyTexts } from './decode/heal';
import { syntaxCut } from './monitors/syntax-cut';
import { TS_EXTENSIONS, TsService, type TsStats } from './monitors/ts-service';
import { graphFeeds, runStep, selectionOf, type StepOut } from './step';
import { mulberry32 } from '../shared/random';
import { QuickContext, isQuick, layOutInSteps, type Quick } from './quick-context';

export { selectionOf, type StepOut } from './step';
export type { CompleteRequest } from './complete-request';
export { QUICK_PREFILL_TOKENS } from './quick-context';

export const PREFILL_CHUNK = 256;
/** Sparse prefill (EngineConfig.prefill = 'sparse'): chunks that start after this many cached
 *  tokens run the TokenButler graph, all positions of a chunk sharing one selection (the chunk's
 *  mean importance query) of this many tokens per (layer, KV head) plus sinks and recent. */
export const SPARSE_PREFILL_FROM = 4096;
export const SPARSE_PREFILL_CHUNK = 128;
export const SPARSE_PREFILL_BUDGET = 2048;
/** Dense chunks of a warmup (the background prefill): a completion that arrives waits for the
 *  chunk in progress, and a chunk's attention work is its length times the capacity, so half the
 *  chunk halves that wait for nearly the same total (bench/first-suggestion.md). */
export const WARMUP_PREFILL_CHUNK = 128;
/** Tokens a warmup leaves room for beyond the context and one completion (typing at the cursor),
 *  so the completions after it do not grow the cache: a grow copies every cached row, ~0.6-0.9 s
 *  at 16k tokens on the bench machine (bench/first-suggestion.md). */
export const WARMUP_TYPING_ROOM = 256;
/** Longest selection Explain teacher-forces (the extension sends at most 4,000 chars). */
export const MAX_EXPLAIN_TOKENS = 4096;

export interface ExplainRequest {
  context: ContextPayload;
  selection: string;
  policy?: Policy;
  budget?: number;
  monitors?: boolean;
}

export interface Hooks {
  emit(e: EngineEvent): void;
  cancelled(): boolean;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface StepTimes {
  prefillMs: number;
  prefilled: number;
  reused: number;
}

export class Engine {
  private model?: LoadedModel;
  private cfg?: EngineConfig;
  /** The repository context: warmups and full-context requests read it. */
  private main?: KvCache;
  /** The quick answers' window, in a cache of its own: a quick answer leaves the warmup's progress
   *  as it was, and a resumed warmup leaves the window cached for the next keystroke. */
  private side?: KvCache;
  /** The cache the running job reads: `main`, or `side` inside a quick answer. */
  private cache?: KvCache;
  private enc?: EncodingCache;
  private quick?: QuickContext;
  private monitors?: Monitors;
  private ts?: TsService;
  private log?: (message: string) => void;

  get loaded(): LoadedModel | undefined {
    return this.model;
  }

  /** The repository context's cache (the bench and tests read and trim it). */
  get kv(): KvCache | undefined {
    return this.main;
  }

  /** The quick answers' cache (undefined until configured). */
  get quickKv(): KvCache | undefined {
    return this.side;
  }

  async configure(cfg: EngineConfig, hooks: Hooks): Promise<{ executionProvider: string; loadMs: number; model: string }> {
    const reload = !this.model || !this.cfg || this.cfg.modelDir !== cfg.modelDir || this.cfg.executionProvider !== cfg.executionProvider;
    this.cfg = cfg;
    this.log = (message) => hooks.emit({ type: 'log', level: 'info', message });
    if (reload) {
      hooks.emit({ type: 'state', state: 'loading', detail: cfg.modelDir });
      const old = this.model;
      this.model = undefined;
      this.cache = this.main = this.side = undefined;
      if (old) await Promise.all([old.dense.release(), old.sparse.release(), releaseContextual(old)]).catch(() => undefined);
      this.model = await loadModel(cfg.modelDir, cfg.executionProvider, (m) => hooks.emit({ type: 'log', level: 'warn', message: m }));
      this.cache = this.main = new KvCache(this.model.config);
      this.side = new KvCache(this.model.config);
      this.enc = new EncodingCache(this.model.tokenizer);
      hooks.emit({ type: 'log', level: 'info', message: `model ${this.model.manifest.name} loaded in ${this.model.loadMs.toFixed(0)} ms on ${this.model.executionProvider}` });
    }
    this.applyMemoryCap();
    this.model!.contextual = await activateContextual(this.model!, contextualOf(cfg), (message) => hooks.emit({ type: 'log', level: 'warn', message }));
    hooks.emit({ type: 'state', state: 'ready' });
    return { executionProvider: this.model!.executionProvider, loadMs: this.model!.loadMs, model: this.model!.manifest.name };
  }

  /** The cache holds at most what one request needs: the context (the stream may exceed the cap by
   *  a header's worth), the prefill's spare rows and a completion. A lowered cap releases memory
   *  at once, keeping the cached front (the next context most likely starts the same way). */
  private applyMemoryCap(): void {
    if (!this.cfg) return;
    const limit = this.cfg.maxContextTokens + 32 + 64 + this.cfg.maxNewTokens;
    for (const cache of [this.main, this.side]) {
      if (!cache) continue;
      cache.limit = limit;
      if (cache.cap > limit) cache.shrinkTo(Math.min(cache.length, this.cfg.maxContextTokens), limit);
    }
  }

  private noPredictorNoticed?: string;

  /** The policy a request runs under: tokenbutler needs a trained predictor; a model folder whose
   *  manifest says it has none (an imported checkpoint before distillation) runs it as dense, with one
   *  notice in the log per model. Engine.step keeps the requested graph (the speed bench measures it). */
  policyFor(policy: Policy): Policy {
    const m = this.model;
    if (policy !== 'tokenbutler' || !m || m.predictorTrained) return policy;
    if (this.noPredictorNoticed !== m.dir) {
      this.noPredictorNoticed = m.dir;
      this.log?.(`model ${m.manifest.name} has no trained TokenButler predictor yet: the tokenbutler policy runs as dense (window works; distill a predictor with training/pipeline/train_predictor.py)`);
    }
    return 'dense';
  }

  private need(): { m: LoadedModel; cache: KvCache; cfg: EngineConfig; enc: EncodingCache } {
    if (!this.model || !this.cache || !this.cfg || !this.enc) throw new Error('engine is not configured (no model loaded)');
    return { m: this.model, cache: this.cache, cfg: this.cfg, enc: this.enc };
  }

  /** The graph and inputs for running `ids` after the cache under `policy` (the bench profiles these). */
  feedsFor(ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array, interval = 1): { sparse: boolean; feeds: Record<string, ort.Tensor> } {
    const { m, cache } = this.need();
    return graphFeeds(m, cache, ids, policy, budget, reuse, false, interval);
  }

  /** One graph run over `ids` appended after the cache (step.ts; select: its selection is shown;
   *  interval: the prediction interval; above 1 a fresh selection fetches its neighbours). */
  step(ids: number[], policy: Policy, budget: number, reuse?: BigInt64Array, select = false, interval = 1): Promise<StepOut> {
    const { m, cache } = this.need();
    return runStep(m, cache, ids, policy, budget, reuse, select, interval);
  }

  /** Makes the cache hold exactly `ids` (reusing the longest common prefix); returns the logits
   *  after the last token. Prefill runs in chunks with cancellation and progress between them. */
  async prefill(ids: number[], hooks: Hooks, mode?: PrefillMode, denseChunk = PREFILL_CHUNK): Promise<{ logits: Float32Array } & StepTimes> {
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
    // No room for all of `ids` up front: every graph computes over the cache's whole capacity, so
    // the capacity follows the chunks (graphFeeds grows it by a quarter at a time) and an early
    // chunk of a long prefill reads a short cache, not the final one; the room is made at the end.
    const total = ids.length - keep;
    const sparseFrom = this.model!.sparseChunks && (mode ?? this.cfg?.prefill ?? 'dense') === 'sparse' ? SPARSE_PREFILL_FROM : Infinity;
    let logits: Float32Array | undefined;
    for (let at = keep; at < ids.length; ) {
      if (hooks.cancelled()) throw new CancelledError();
      const sparse = at >= sparseFrom;
      const end = Math.min(ids.length, at + (sparse ? SPARSE_PREFILL_CHUNK : denseChunk));
      logits = (await this.step(ids.slice(at, end), sparse ? 'tokenbutler' : 'dense', SPARSE_PREFILL_BUDGET)).logits;
      if (total > PREFILL_CHUNK) hooks.emit({ type: 'progress', done: end - keep, total });
      at = end;
    }
    cache.ensure(ids.length + 64);
    cache.remember(ids.length, logits!, true);
    return { logits: logits!, prefillMs: performance.now() - t0, prefilled: total, reused: keep };
  }

  private stream(ctx: ContextPayload): Stream {
    const { m, cfg, enc } = this.need();
    return buildStream(ctx, m.tokenizer, enc, cfg.maxContextTokens, m.specials);
  }

  async warmup(ctx: ContextPayload, hooks: Hooks): Promise<{ contextTokens: number; prefilledTokens: number; prefillMs: number }> {
    this.preloadMonitors(ctx); // the language service loads in its own thread, even if a completion stops this at once
    hooks.emit({ type: 'state', state: 'prefilling' });
    try {
      await this.warmWindow(ctx, hooks);
      layOutInSteps(ctx, (c) => this.stream(c), () => {
        if (hooks.cancelled()) throw new CancelledError();
      });
      const s = this.stream(ctx);
      const { cfg, cache } = this.need();
      cache.truncate(commonPrefix(cache.ids, s.ids));
      const r = await this.prefill(s.ids, hooks, prefillModeFor(this.policyFor(cfg.policy), cfg.prefill), WARMUP_PREFILL_CHUNK);
      // room for the typing and completions that follow: growing the cache then would copy all of it
      cache.ensure(s.ids.length + 64 + cfg.maxNewTokens + WARMUP_TYPING_ROOM);
      return { contextTokens: s.ids.length, prefilledTokens: r.prefilled, prefillMs: r.prefillMs };
    } finally {
      hooks.emit({ type: 'state', state: 'ready' });
    }
  }

  /** While the repository context is not cached, a completion at this cursor would read the quick
   *  window (quick-context.ts): the warmup prefills that first, in its own cache, so the first
   *  suggestion after the cursor comes to rest costs only the typed tokens, not the window. */
  private async warmWindow(ctx: ContextPayload, hooks: Hooks): Promise<void> {
    const { m, cfg } = this.need();
    if (!cfg.partialContext) return;
    await this.thenMain(async () => {
      const { s, quick } = this.requestStream(ctx, cfg.maxNewTokens, 'warmup');
      if (!quick) return;
      const heal = TOKEN_HEALING.enabled ? healFor(s, vocabularyTexts(m.tokenizer)) : undefined;
      await this.prefill(heal?.ids ?? s.ids, hooks, 'dense', WARMUP_PREFILL_CHUNK);
    });
  }

  /** The monitors of this model's tokenizer; the language-service worker starts on first use. */
  private monitorsFor(m: LoadedModel): Monitors {
    if (!this.monitors || this.monitors.tokenText.length !== m.tokenizer.vocabSize) {
      this.ts ??= new TsService(undefined, (msg) => this.log?.(msg));
      const sp = m.specials;
      const specials = [...new Set([...sp.stop, ...[sp.bos, sp.fimPrefix, sp.fimMiddle, sp.fimSuffix, sp.fileSep].filter((v): v is number => v !== undefined)])];
      this.monitors = new Monitors(vocabularyTexts(m.tokenizer), this.ts, specials);
    }
    return this.monitors;
  }

  /** Language-service state for the status line and the bench (undefined until first used). */
  get languageService(): TsStats | undefined {
    return this.ts?.stats;
  }

  /** Loads the context files into the language service and waits (at most `waitMs`) until it
   *  answers: for one-shot runs (CLI, benchmarks); the extension preloads it at warmup instead. */
  async prepareMonitors(ctx: ContextPayload, waitMs: number): Promise<boolean> {
    this.preloadMonitors(ctx);
    return (await this.ts?.whenReady(waitMs)) ?? false;
  }

  /** Loads the context files into the language service in the background (warmup, file focus). */
  private preloadMonitors(ctx: ContextPayload): void {
    const { m, cfg } = this.need();
    if (cfg.monitors === false || !TS_EXTENSIONS.test(ctx.current.file)) return;
    // the current file as the queries send it: the first one then reuses the program
    this.monitorsFor(m).ts?.setFiles(serviceFileSet(ctx, { file: ctx.current.file, text: serviceText(ctx.current).text }));
  }

  private monitorSession(req: CompleteRequest): MonitorSession | undefined {
    const { m, cfg } = this.need();
    if (!(req.monitors ?? cfg.monitors ?? true)) return undefined;
    const c = req.context;
    return this.monitorsFor(m).session({ ...c.current, files: c.files, serviceFiles: c.serviceFiles, editorNames: req.editorNames });
  }

  complete(req: CompleteRequest, hooks: Hooks): Promise<CompleteResult> {
    return this.thenMain(() => this.completeOnce(req, hooks));
  }

  /** Runs `job`, then points the cache the next job reads back at the main one (a quick answer
   *  reads the side cache), whether `job` succeeded or not. */
  private async thenMain<T>(job: () => Promise<T>): Promise<T> {
    try {
      return await job();
    } finally {
      this.cache = this.main;
    }
  }

  private async completeOnce(req: CompleteRequest, hooks: Hooks): Promise<CompleteResult> {
    const { m, cfg } = this.need();
    const t0 = performance.now();
    const policy = this.policyFor(req.policy ?? cfg.policy);
    const select = req.chosen ?? false; // below the crossover, the chosen context costs a sparse step
    const budget = req.budget ?? cfg.budget;
    const maxNew = req.maxNewTokens ?? cfg.maxNewTokens;
    const { s, quick, cache } = this.requestStream(req.context, maxNew, 'completion');
    const multiline = (req.multiline ?? true) && !quick?.firstLineOnly;
    const monitor = this.monitorSession(req);
    monitor?.prefetch(); // the language-service query at the cursor runs while the context is prefilled
    const prefillMode = prefillModeFor(policy, req.prefill ?? cfg.prefill);
    const heal = TOKEN_HEALING.enabled ? healFor(s, vocabularyTexts(m.tokenizer)) : undefined;
    const prompt = heal?.ids ?? s.ids;
    const pre = await this.prefill(prompt, hooks, prefillMode);
    const firstTokenMs = performance.now() - t0;
    const attr = newAttribution(s.ids.length);
    const lineHead = lastLine(req.context.current.prefix);
    const baseIndent = indentOf(lineHead);
    const { sinks, recent } = m.selection;
    const tDecode = performance.now();
    const interval = Math.max(1, Math.floor(req.predictionInterval ?? cfg.predictionInterval ?? 1));
    let attended = 0;
    const d: DecodeDeps = {
      step: (ids, reuse) => this.step(ids, policy, budget, reuse, select, interval),
      selectionOf,
      onStep: (r) => (attended = accumulate(attr, r, prompt.length, sinks, recent) ?? cache.length),
      decode: healedDecode((ids) => m.tokenizer.decode(ids), heal),
      heal,
      vocabSize: m.tokenizer.vocabSize,
      stop: m.specials.stop,
      monitor,
      sampling: req.sampling,
      rand: mulberry32(req.sampling?.seed ?? 0),
      maxNew,
      multiline,
      baseIndent,
      lineHead,
      interval,
      cancelled: () => hooks.cancelled(),
    };
    const rewind = async (j: number) => {
      cache.truncate(prompt.length + Math.max(0, j - 1));
      return j === 0 ? pre.logits : (await this.step([g.out[j - 1]], policy, budget, undefined, select, interval)).logits;
    };
    let g = await decodeFrom(d, [], pre.logits);
    if (g.stopReason === 'cancelled') throw new CancelledError();
    let monitorMs = g.monitorMs; // time the decode waited on the monitors (names, ranking, syntax cut)
    // A suggestion whose line is useless (it copies the line above, or assigns a name to itself):
    // decode again from the token where it went wrong (uselessAt) without that token (the model's
    // next choice there), at most USELESS_LINE.retries times; a suggestion still useless shows nothing.
    const prefix = req.context.current.prefix;
    const useless = (t: string) => (USELESS_LINE.retries > 0 ? uselessAt(prefix, t) : undefined);
    const banned = new Set<number>(); // the tokens tried at token `bannedAt`
    let bannedAt = -1;
    let at = useless(g.text);
    for (let a = 0; a < USELESS_LINE.retries && at !== undefined; a++) {
      const j = tokenAtCut(g.out, at, d.decode);
      if (j >= g.out.length) break;
      if (j !== bannedAt) banned.clear();
      bannedAt = j;
      banned.add(g.out[j]);
      const again = await decodeFrom(d, g.out.slice(0, j), await rewind(j), banned);
      if (again.stopReason === 'cancelled') throw new CancelledError();
      monitorMs += again.monitorMs;
      g = again;
      at = useless(g.text);
    }
    if (at !== undefined) g = { ...g, text: '', stopReason: 'repetition' };
    let text = trimAtStop(g.text, g.stopReason, d.lineHead);
    const tw = performance.now();
    const cut = (t: string, o: number[]) => syntaxCut(this.ts, d.decode, req.context, t, o, multiline);
    let syntax = monitor ? await cut(text, g.out) : undefined;
    monitorMs += performance.now() - tw;
    let replaced: string | undefined;
    if (syntax) {
      const retry = await syntaxRetry(d, g, syntax, rewind, cut);
      if (retry?.decoded.stopReason === 'cancelled') throw new CancelledError();
      monitorMs += retry?.decoded.monitorMs ?? 0;
      // a retry with a useless line is no better than the cut (`},` cut, then the line above again)
      if (retry && useless(retry.text) === undefined) [g, text, syntax, replaced] = [retry.decoded, retry.text, retry.cut, syntax.text];
      else text = syntax.text;
    }
    const decodeMs = performance.now() - tDecode;
    return {
      completion: text,
      policy: policyUsed(m, policy, s.ids.length, select, interval),
      budget,
      prefill: prefillMode,
      predictionInterval: interval,
      contextTokens: prompt.length,
      reusedTokens: pre.reused,
      prefilledTokens: pre.prefilled,
      generatedTokens: g.out.length,
      ...(heal ? { healed: heal.text } : {}),
      attended,
      timings: {
        loadMs: 0,
        prefillMs: pre.prefillMs,
        firstTokenMs,
        decodeMsPerToken: g.out.length > 1 ? decodeMs / (g.out.length - 1) : 0,
        ...(monitor ? { monitorMs } : {}),
      },
      chosen: spans(attr, s),
      stopReason: g.stopReason,
      ...(monitor ? { monitor: { events: monitor.events, syntaxCut: syntax?.cutAt ?? -1, ...(syntax ? { syntaxRemoved: syntax.removed } : {}), ...(replaced !== undefined ? { syntaxRetry: { replaced } } : {}) } } : {}),
      ...(m.contextual ? { contextual: contextualReport(m, m.contextual) } : {}),
      ...(quick ? { contextPartial: quick.partial } : {}),
    };
  }

  /** The stream a completion or an explanation runs on, and the cache it reads, which becomes the
   *  one the job's steps use (callers run inside thenMain): with EngineConfig.partialContext, the
   *  quick window in the side cache while the repository context is not cached (quick-context.ts),
   *  else the full stream in the main one. The graphs compute over the cache's whole capacity, so
   *  the side cache keeps only the room the window and `room` new tokens need. */
  private requestStream(ctx: ContextPayload, room: number, purpose: 'completion' | 'explain' | 'warmup'): { s: Stream; quick?: Quick; cache: KvCache } {
    const { cfg } = this.need();
    const main = (this.cache = this.main!);
    if (!cfg.partialContext) return { s: this.stream(ctx), cache: main };
    this.quick ??= new QuickContext((c) => this.stream(c), () => this.need().cfg.maxContextTokens);
    const picked = this.quick.stream(ctx, main.ids);
    if (!isQuick(picked)) return { s: picked, cache: main };
    const { relatedFiles, fullContextTokens } = picked.partial;
    const window = picked.stream.ids.length - picked.stream.currentStart;
    this.log?.(purpose === 'warmup'
      ? `warmup: the quick window first (${window} tokens of the current file), then the ${relatedFiles} related files (~${fullContextTokens - picked.stream.ids.length} tokens)`
      : `${purpose} on the quick window: ${window} tokens of the current file; the ${relatedFiles} related files (~${fullContextTokens - picked.stream.ids.length} tokens) are left to the warmup`);
    const side = (this.cache = this.side!);
    side.shrinkTo(commonPrefix(side.ids, picked.stream.ids), Math.ceil((picked.stream.ids.length + 64 + room) / 256) * 256);
    return { s: picked.stream, quick: picked, cache: side };
  }

  explain(req: ExplainRequest, hooks: Hooks): Promise<ExplainResult> {
    return this.thenMain(() => this.explainOnce(req, hooks));
  }

  private async explainOnce(req: ExplainRequest, hooks: Hooks): Promise<ExplainResult> {
    const { m, cfg } = this.need();
    const policy = this.policyFor(req.policy ?? cfg.policy);
    const budget = req.budget ?? cfg.budget;
    // Each selection token is one decode step and one cache row: bound both before any work.
    const sel = m.tokenizer.encode(req.selection);
    if (sel.ids.length > MAX_EXPLAIN_TOKENS) throw new Error(`selection too long to explain (${sel.ids.length} tokens; at most ${MAX_EXPLAIN_TOKENS})`);
    // before the warmup has read the repository, Explain reads what a quick completion would
    const { s, quick } = this.requestStream(req.context, sel.ids.length, 'explain');
    const monitor = this.monitorSession({ context: req.context, monitors: req.monitors });
    monitor?.prefetch();
    let logits = (await this.prefill(s.ids, hooks)).logits;
    const attr = newAttribution(s.ids.length);
    const tokens: ExplainToken[] = [];
    const constrained: ExplainMonitor[] = [];
    let bits = 0;
    const { sinks, recent } = m.selection;
    for (let i = 0; i < sel.ids.length; i++) {
      if (hooks.cancelled()) throw new CancelledError();
      const id = sel.ids[i];
      const lp = logSoftmaxAt(noPadding(logits, m.tokenizer.vocabSize), id);
      tokens.push({ text: req.selection.slice(sel.offsets[i], sel.offsets[i + 1]), logprob: lp, top1: argmax(logits) === id });
      if (monitor) {
        // what the monitors would have done at this token: which source, how many names, whether the real token was allowed
        const c = await monitor.next(req.selection.slice(0, sel.offsets[i]));
        const ev = monitor.events.at(-1);
        if (c?.allowed && ev) constrained.push({ token: i, source: ev.source, candidates: ev.candidates, allowed: c.allowed[id] === 1, ...(ev.top ? { top: ev.top } : {}) });
        else if (c?.bias && ev) constrained.push({ token: i, source: ev.source, candidates: ev.candidates, allowed: true, ...(ev.top ? { top: ev.top } : {}) });
      }
      bits += -lp / Math.LN2;
      // every selection token is read by one step, the last too (as a completion's last token is
      // before its stop), so a one-token selection still shows the context the model read
      const r = await this.step([id], policy, budget, undefined, true); // Explain always shows the selection
      logits = r.logits;
      accumulate(attr, r, s.ids.length, sinks, recent);
    }
    return { tokens, meanSurprisalBits: tokens.length ? bits / tokens.length : 0, policy, budget, chosen: spans(attr, s), ...(monitor ? { monitor: constrained } : {}), ...(quick ? { contextPartial: quick.partial } : {}), ...(m.contextual ? { contextual: contextualReport(m, m.contextual) } : {}) };
  }
}


/** Sparse prefill only serves the tokenbutler policy (dense and window are the exact and the
 *  baseline paths); `requested` defaults to dense. */
function prefillModeFor(policy: Policy, requested: PrefillMode | undefined): PrefillMode {
  return policy === 'tokenbutler' ? requested ?? 'dense' : 'dense';
}
