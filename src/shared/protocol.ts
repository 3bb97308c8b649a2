// Messages between the extension host (or the CLI) and the engine child process.
// Everything here is JSON-serialisable and has no vscode import: the CLI and the extension share it.

export type Policy = 'tokenbutler' | 'dense' | 'window';
export type ExecutionProvider = 'auto' | 'cpu' | 'cuda' | 'webgpu';

/** A workspace file placed in the context, in order. `text` is the exact text placed. */
export interface ContextFile {
  file: string; // workspace-relative path, '/'-separated
  text: string;
}

/** The assembled context: related files first (append-only order), the current file last. */
export interface ContextPayload {
  files: ContextFile[];
  current: {
    file: string;
    prefix: string; // text of the current file before the cursor
    suffix: string; // text after the cursor (the engine caps it)
  };
}

/** Greedy when absent or temperature 0; otherwise temperature + nucleus (top-p) sampling, seeded. */
export interface Sampling {
  temperature: number;
  topP?: number;
  seed?: number;
}

export interface EngineConfig {
  modelDir: string;
  executionProvider: ExecutionProvider;
  policy: Policy;
  budget: number;
  maxContextTokens: number;
  maxNewTokens: number;
  /** How context beyond SPARSE_PREFILL_FROM cached tokens is prefilled: `dense` (exact) or
   *  `sparse` (the TokenButler graph on 128-token chunks, budget SPARSE_PREFILL_BUDGET). Default dense. */
  prefill?: PrefillMode;
  /** Decode steps per fresh selection (1 = select every step); in between, a step re-reads the
   *  previous step's selection with the recent window moved on. Default 1. */
  predictionInterval?: number;
}

export type PrefillMode = 'dense' | 'sparse';

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
}

export interface CompleteResult {
  completion: string;
  policy: Policy;
  budget: number;
  /** how this completion's prefill ran (sparse only past 4,096 cached tokens) and the decode's prediction interval */
  prefill: PrefillMode;
  predictionInterval: number;
  contextTokens: number;
  reusedTokens: number;
  prefilledTokens: number;
  generatedTokens: number;
  attended: number; // tokens attended per (layer, head) at the last step
  timings: Timings;
  chosen: ChosenSpan[];
  stopReason: 'eot' | 'max-tokens' | 'max-lines' | 'block-end' | 'repetition' | 'cancelled';
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
}

export type Request =
  | { id: number; type: 'configure'; config: EngineConfig }
  | { id: number; type: 'complete'; context: ContextPayload; documentKey: string; policy?: Policy; budget?: number; maxNewTokens?: number; multiline?: boolean; sampling?: Sampling }
  | { id: number; type: 'explain'; context: ContextPayload; selection: string; policy?: Policy; budget?: number }
  | { id: number; type: 'warmup'; context: ContextPayload }
  | { id: number; type: 'cancel'; target: number }
  | { id: number; type: 'shutdown' };

export type EngineState = 'loading' | 'prefilling' | 'ready' | 'error';

export type EngineEvent =
  | { type: 'state'; state: EngineState; detail?: string }
  | { type: 'progress'; done: number; total: number }
  /** The child's job queue changed: jobs running (0/1) and waiting, and the most completions held
   *  for one document (at most one running plus one queued). */
  | { type: 'queue'; running: number; queued: number; perDocument: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type Response =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; message: string; cancelled?: boolean }
  | { type: 'event'; event: EngineEvent };
