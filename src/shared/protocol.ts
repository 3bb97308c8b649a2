// Messages between the extension host (or the CLI) and the engine child process.
// Everything here is JSON-serialisable and has no vscode import: the CLI and the extension share it.
//
// Each message either end receives is declared once, as a valibot schema; its TypeScript type is
// inferred from the schema, so the type and the runtime check (protocol-guards.ts) cannot drift.
// A new optional field is one entry in its object, e.g. `monitors: v.optional(v.boolean())`; a
// field without its own message is reported as "<path> must be a boolean" (see protocol-guards).
// Results (CompleteResult, ExplainResult) come from the engine of the same build and are not
// re-checked, so they stay plain interfaces.
import * as v from 'valibot';
import { CONTEXTUAL_MODES, type ContextualMode } from './contextual';

// Bounds on what one request may ask of the engine, so a bad message costs an error, not minutes
// of work or gigabytes of cache. The extension's settings stay inside them.
/** Decode steps per fresh TokenButler selection, the extension's and the CLI's default: the steps
 *  between re-read it with each chosen slot's next neighbour (bench/results.md: 1.4-2.1x faster than
 *  dense at 8k-16k, +0.3% bits/byte against a fresh selection every step, bench/quality.md). */
export const DEFAULT_PREDICTION_INTERVAL = 4;

export const LIMITS = {
  maxContextTokens: { min: 256, max: 131_072 },
  maxNewTokens: { min: 1, max: 1024 },
  budget: { min: 1, max: 1 << 20 },
  /** Explain teacher-forces the selection token by token; the extension sends at most 4,000 chars. */
  selectionChars: 16_000,
  /** Files of ContextPayload.serviceFiles (the assembler sends at most SERVICE_LIMITS.files). */
  serviceFiles: 256,
} as const;

// Schema builders whose messages are phrases; the guard puts the field's path in front.
const oneOf = <const T extends readonly string[]>(options: T) => v.picklist(options, `must be ${options.join('|')}`);
const finite = (message = 'must be a number') => v.pipe(v.number(message), v.finite(message));
const intIn = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
};
const limit = (name: 'maxContextTokens' | 'maxNewTokens' | 'budget') => intIn(LIMITS[name].min, LIMITS[name].max);
const id = finite('must be a finite number');

export const PolicySchema = oneOf(['tokenbutler', 'dense', 'window']);
export type Policy = v.InferOutput<typeof PolicySchema>;
export const ExecutionProviderSchema = oneOf(['auto', 'cpu', 'cuda', 'webgpu']);
export type ExecutionProvider = v.InferOutput<typeof ExecutionProviderSchema>;
export const PrefillModeSchema = oneOf(['dense', 'sparse']);
export type PrefillMode = v.InferOutput<typeof PrefillModeSchema>;

/** A workspace file placed in the context, in order. `text` is the exact text placed. */
export const ContextFileSchema = v.object({
  file: v.string(), // workspace-relative path, '/'-separated
  text: v.string(),
});
export type ContextFile = v.InferOutput<typeof ContextFileSchema>;

/** The assembled context: related files first (append-only order), the current file last. */
export const ContextPayloadSchema = v.object({
  files: v.array(ContextFileSchema),
  current: v.object({
    file: v.string(),
    prefix: v.string(), // text of the current file before the cursor
    suffix: v.string(), // text after the cursor (the engine caps it)
    /** The file's text before `prefix` and after `suffix` where the assembler capped them: only the
     *  language service reads it (the class around `this.`, the imports), never the model. */
    head: v.optional(v.string()),
    tail: v.optional(v.string()),
  }),
  /** Related files the token budget left out, whole: only the language service reads them (the
   *  types and members the placed context names but does not define), never the model. */
  serviceFiles: v.optional(v.pipe(v.array(ContextFileSchema), v.maxLength(LIMITS.serviceFiles, `at most ${LIMITS.serviceFiles} files`))),
});
export type ContextPayload = v.InferOutput<typeof ContextPayloadSchema>;

/** Greedy when absent or temperature 0; otherwise temperature + nucleus (top-p) sampling, seeded. */
export const SamplingSchema = v.object({
  temperature: v.pipe(finite('must be a number >= 0'), v.minValue(0, 'must be a number >= 0')),
  topP: v.optional(v.pipe(finite('must be in (0, 1]'), v.gtValue(0, 'must be in (0, 1]'), v.maxValue(1, 'must be in (0, 1]'))),
  seed: v.optional(finite()),
});
export type Sampling = v.InferOutput<typeof SamplingSchema>;

export const EngineConfigSchema = v.object({
  modelDir: v.string(),
  executionProvider: ExecutionProviderSchema,
  policy: PolicySchema,
  budget: limit('budget'),
  maxContextTokens: limit('maxContextTokens'),
  maxNewTokens: limit('maxNewTokens'),
  /** How context beyond SPARSE_PREFILL_FROM cached tokens is prefilled: `dense` (exact) or
   *  `sparse` (the TokenButler graph on 128-token chunks, budget SPARSE_PREFILL_BUDGET). Default dense. */
  prefill: v.optional(PrefillModeSchema),
  /** Decode steps per fresh selection (1 = select every step); in between, a step re-reads the
   *  previous step's selection with the recent window moved on. Default 1. */
  predictionInterval: v.optional(intIn(1, 16)),
  /** Monitor-guided decoding (language service, editor names, context prior). Default on. */
  monitors: v.optional(v.boolean()),
  /** A completion whose related files are not cached yet answers at once from a window of the
   *  current file, in a cache of its own (CompleteResult.contextPartial); a warmup prefills that
   *  window first, then fills the rest in the background.
   *  Default off (one-shot CLI runs, benchmarks); the extension turns it on. */
  partialContext: v.optional(v.boolean()),
  /** ShadowLLM contextual sparsity of decode steps (src/shared/contextual.ts): which of heads and FFN
   *  neurons each layer after the first computes only its top `contextualKeep` share of. Default off. */
  contextualSparsity: v.optional(oneOf(CONTEXTUAL_MODES)),
  contextualKeep: v.optional(v.pipe(finite('must be a number in (0, 1]'), v.gtValue(0, 'must be a number in (0, 1]'), v.maxValue(1, 'must be a number in (0, 1]'))),
});
export type EngineConfig = v.InferOutput<typeof EngineConfigSchema>;

// Fields are checked in the order written, and the first problem is the one reported.
export const RequestSchema = v.variant('type', [
  v.object({ id, type: v.literal('configure'), config: EngineConfigSchema }),
  v.object({
    id,
    type: v.literal('complete'),
    documentKey: v.string(),
    context: ContextPayloadSchema,
    policy: v.optional(PolicySchema),
    budget: v.optional(limit('budget')),
    maxNewTokens: v.optional(limit('maxNewTokens')),
    multiline: v.optional(v.boolean()),
    sampling: v.optional(SamplingSchema),
    monitors: v.optional(v.boolean()),
    /** The caller shows the chosen context (the highlight is on): tokenbutler selects at every context;
     *  otherwise its decode steps run dense below the model's crossover (faster, no selection). */
    chosen: v.optional(v.boolean()),
    /** Names the editor's completion provider offers at the cursor (languages the engine has no service for). */
    editorNames: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(256, 'must be names of at most 256 chars'))), v.maxLength(5000, 'at most 5000 names'))),
    /** A prefetch of the completion that follows once the shown suggestion is typed: it runs after
     *  every other request but a warmup, and any other request stops it (src/engine/scheduler.ts). */
    speculative: v.optional(v.boolean()),
  }),
  v.object({
    id,
    type: v.literal('explain'),
    selection: v.pipe(
      v.string(),
      v.maxLength(LIMITS.selectionChars, (issue) => `too long (${issue.received} chars; at most ${LIMITS.selectionChars})`),
    ),
    context: ContextPayloadSchema,
    policy: v.optional(PolicySchema),
    budget: v.optional(limit('budget')),
    monitors: v.optional(v.boolean()),
  }),
  v.object({ id, type: v.literal('warmup'), context: ContextPayloadSchema }),
  v.object({ id, type: v.literal('cancel'), target: finite() }),
  /** The user is typing although the extension asks the engine nothing (it answers the keystroke
   *  from the shown suggestion or a prefetched answer): no answer; a warmup waits for a pause from now. */
  v.object({ id, type: v.literal('typing') }),
  v.object({ id, type: v.literal('shutdown') }),
]);
export type Request = v.InferOutput<typeof RequestSchema>;
export const REQUEST_TYPES: readonly string[] = RequestSchema.options.map((o) => o.entries.type.literal);

export const EngineStateSchema = oneOf(['loading', 'prefilling', 'ready', 'error']);
export type EngineState = v.InferOutput<typeof EngineStateSchema>;

export const EngineEventSchema = v.variant('type', [
  v.object({ type: v.literal('state'), state: EngineStateSchema, detail: v.optional(v.string()) }),
  v.object({ type: v.literal('progress'), done: v.number(), total: v.number() }),
  /** The child's job queue changed: jobs running (0/1) and waiting, and the most completions held
   *  for one document (at most one running plus one queued). */
  v.object({ type: v.literal('queue'), running: v.number(), queued: v.number(), perDocument: v.number() }),
  v.object({ type: v.literal('log'), level: oneOf(['info', 'warn', 'error']), message: v.string() }),
]);
export type EngineEvent = v.InferOutput<typeof EngineEventSchema>;

export const ResponseSchema = v.variant('type', [
  v.object({ id, type: v.literal('result'), result: v.optional(v.unknown()) }),
  v.object({ id, type: v.literal('error'), message: v.string(), cancelled: v.optional(v.boolean()) }),
  v.object({ type: v.literal('event'), event: EngineEventSchema }),
]);
export type Response = v.InferOutput<typeof ResponseSchema>;

/** A span of context the selection chose: char offsets into that file's placed text, or into the current file. */
export interface ChosenSpan {
  file: string;
  start: number; // char offset (UTF-16) in the file's text as placed; for the current file, in prefix+suffix order of the document
  end: number;
  score: number; // 0..1, share of (layer, head) selections that picked this span's tokens, weighted
  heads: number; // how many (layer, KV head) pairs chose a token in the span
}

export interface Timings {
  loadMs: number;
  prefillMs: number;
  firstTokenMs: number;
  decodeMsPerToken: number;
  /** with monitors: how long decoding waited on them (names, ranking, the syntax cut) */
  monitorMs?: number;
}

export interface CompleteResult {
  completion: string;
  policy: Policy;
  budget: number;
  /** how this completion's prefill ran (sparse only past 4,096 cached tokens) and the decode's prediction interval */
  prefill: PrefillMode;
  predictionInterval: number;
  /** tokens the model read before its first token: reused + prefilled */
  contextTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  /** the generated tokens (with token healing the first one re-writes `healed`) */
  generatedTokens: number;
  /** token healing: the text of the prompt's last token, which the first generated token began with
   *  instead (decode/heal.ts); the completion is what follows it */
  healed?: string;
  attended: number; // tokens attended per (layer, head) at the last step
  timings: Timings;
  chosen: ChosenSpan[];
  stopReason: 'eot' | 'max-tokens' | 'max-lines' | 'block-end' | 'repetition' | 'cancelled';
  /** what the monitors did (absent when they are off) */
  monitor?: MonitorReport;
  /** Present when the completion ran on a reduced context (EngineConfig.partialContext): a window of
   *  the current file, with `placedFiles` of `relatedFiles` related files before it (0 since the
   *  window has its own cache: the related files are left to the warmup). */
  contextPartial?: ContextPartial;
  /** present while ShadowLLM contextual sparsity is on: what each masked layer computed per decode step */
  contextual?: ContextualReport;
}

export interface ContextPartial {
  placedFiles: number;
  /** the related files of the request (on a cold cache the assembled ones, placed or not) */
  relatedFiles: number;
  /** tokens of the full stream the completion would have used (on a cold cache an estimate from
   *  the files' characters: they are not tokenized before the quick answer) */
  fullContextTokens: number;
}

export type MonitorSource = 'typescript' | 'editor' | 'context' | 'copy' | 'syntax';

/** One constrained identifier of a completion. */
export interface MonitorEvent {
  /** offset in the completion text where the identifier begins */
  at: number;
  /** where the names came from: a hard mask (typescript, editor) or the context prior's bias only;
   *  `copy`: the line-copy monitor's bias toward an earlier line's continuation (`top` holds it);
   *  `syntax`: a statement head's opening bracket after `if`, `while`, ... (keyword-head.ts) */
  source: MonitorSource;
  candidates: number;
  /** the ranking's bias applied too */
  prior: boolean;
  /** the best-ranked names, best first (at most 3) */
  top?: string[];
  /** time to get the names (language-service query and ranking) */
  ms: number;
}

export interface MonitorReport {
  events: MonitorEvent[];
  /** char offset in the completion where a parse error the completion added was cut off; -1 if none */
  syntaxCut: number;
  /** the text cut off there */
  syntaxRemoved?: string;
  /** the completion is a second decode from the token where a first one's syntax cut fell, without
   *  that token (it kept more): the first one's cut text */
  syntaxRetry?: { replaced: string };
}

/** Explain: a selection token at which a monitor applied. */
export interface ExplainMonitor {
  token: number;
  source: MonitorSource;
  candidates: number;
  /** the selection's real token was among the names' tokens */
  allowed: boolean;
  /** the best-ranked names there, best first (at most 3) */
  top?: string[];
}

export interface ExplainToken {
  text: string;
  logprob: number; // natural log of the token's probability
  top1: boolean;
}

export interface ExplainResult {
  tokens: ExplainToken[];
  meanSurprisalBits: number;
  policy: Policy;
  budget: number;
  chosen: ChosenSpan[];
  /** the tokens where a monitor applied (absent when they are off) */
  monitor?: ExplainMonitor[];
  /** present when the repository context was not cached yet: it read what a quick completion reads */
  contextPartial?: ContextPartial;
  /** present while ShadowLLM contextual sparsity is on: what each masked layer computed per token */
  contextual?: ContextualReport;
}

/** The heads and FFN neurons each layer in `layers` computed per decode step (the rest skipped). */
export interface ContextualReport {
  mode: ContextualMode;
  layers: number[];
  heads: { kept: number; of: number };
  neurons: { kept: number; of: number };
}
