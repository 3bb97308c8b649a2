// Loads a model folder (docs/graph-contract.md): validates the manifest against the files and the
// graphs, creates the ONNX Runtime sessions with execution-provider fallback, loads the tokenizer.
import { createHash } from 'crypto';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../shared/protocol';
import type { ActiveContextual } from './contextual';
import { BpeTokenizer, SPECIAL } from './tokenizer';

export interface ModelConfig {
  vocab_size: number;
  d_model: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  head_dim: number;
  imp_dim: number;
  ffn_dim?: number;
  producer_layer: number;
  /** "int8": the compact K/V cache (docs/graph-contract.md); absent or "f32": float32 rows. */
  kv_cache?: string;
}

export interface Manifest {
  format: number;
  name: string;
  config: ModelConfig;
  graphs: { dense: string; sparse: string };
  tokenizer: string;
  selection: { sinks: number; recent: number };
  files: Record<string, string>;
  [k: string]: unknown;
}

/** The token stream's special tokens (manifest.specialTokens). The default model's are ids 0-4 and its
 *  stream is suffix-first (`spm`); an imported model (training/pipeline/import_hf.py) names its own, and
 *  `fim` says how the current file is laid out: `psm` (`<fim_prefix>` prefix `<fim_suffix>` suffix
 *  `<fim_middle>`, as the checkpoints were trained), or `none` (no FIM tokens: plain prefix completion). */
export interface Specials {
  eot: number;
  bos?: number;
  fimPrefix?: number;
  fimMiddle?: number;
  fimSuffix?: number;
  /** absent: file headers are plain text */
  fileSep?: number;
  /** every id that ends a completion */
  stop: Set<number>;
  fim: 'spm' | 'psm' | 'none';
}

export interface LoadedModel {
  dir: string;
  manifest: Manifest;
  config: ModelConfig;
  dense: ort.InferenceSession;
  sparse: ort.InferenceSession;
  /** The graphs take the cache's token ids (`ctx_ids`): the model has pointer heads. */
  pointer: boolean;
  /** The sparse graph takes chunks (S > 1) and a previous selection to re-read (`reuse_selection`,
   *  `prev_selected`); older graphs take one token and select every step. */
  sparseChunks: boolean;
  /** The sparse graph can fetch the neighbours of the slots it selects (`neighbors`), for selections
   *  re-read over a prediction interval > 1. */
  neighbors: boolean;
  tokenizer: BpeTokenizer;
  specials: Specials;
  /** false when the manifest says the predictor is untrained (an imported model before distillation):
   *  the engine then runs the tokenbutler policy as dense. */
  predictorTrained: boolean;
  /** Forced part of every sparse read: the first `sinks` and the last `recent` cached tokens
   *  (manifest.selection; 8 and 128 when an older manifest lacks them). */
  selection: { sinks: number; recent: number };
  executionProvider: string;
  loadMs: number;
  /** Set while ShadowLLM contextual sparsity is on (contextual.ts): decode steps run its graphs. */
  contextual?: ActiveContextual;
}

export class ModelError extends Error {}

export function sessionOptions(ep: string): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    intraOpNumThreads: 1, // decode is memory-bound; a second thread competes with the editor
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

function candidates(ep: ExecutionProvider): string[] {
  if (ep === 'cpu') return ['cpu'];
  if (ep === 'auto') return ['cuda', 'webgpu', 'cpu'];
  return [ep, 'cpu'];
}

function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) throw new ModelError(`model folder ${dir} has no manifest.json`);
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelError(`model manifest ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (m.format !== 1) throw new ModelError(`model manifest format ${m.format} is not supported (expected 1)`);
  for (const key of ['config', 'graphs', 'tokenizer', 'files'] as const) {
    if (!m[key]) throw new ModelError(`model manifest ${file} lacks "${key}"`);
  }
  // the ShadowLLM variants are read (and checked) only when contextual sparsity asks for them (contextual.ts)
  const onDemand = new Set(Object.values((m.shadow as { graphs?: Record<string, string> } | undefined)?.graphs ?? {}));
  for (const name of Object.keys(m.files)) if (!onDemand.has(name)) checkModelFile(dir, m, name);
  return m;
}

/** Throws a ModelError unless `name` in `dir` exists and has the sha256 that manifest.files gives
 *  (a file the manifest does not list is not checked). */
export function checkModelFile(dir: string, m: Manifest, name: string): void {
  const hash = m.files[name];
  if (hash === undefined) return;
  const p = path.join(dir, name);
  if (!existsSync(p)) throw new ModelError(`model file ${name} is missing from ${dir}`);
  const actual = createHash('sha256').update(readFileSync(p)).digest('hex');
  if (actual !== hash) throw new ModelError(`model file ${name} in ${dir} is corrupt (sha256 differs from manifest.json)`);
}

function checkGraph(name: string, s: ort.InferenceSession, c: ModelConfig, sparse: boolean): void {
  const want = ['input_ids', 'prev_id', 'start_pos'];
  for (let l = 0; l < c.n_layers; l++) want.push(`past_k.${l}`, `past_v.${l}`);
  if (c.kv_cache === 'int8') for (let l = 0; l < c.n_layers; l++) want.push(`past_ks.${l}`, `past_vs.${l}`); // the compact cache's row steps
  if (sparse) {
    for (let l = 1; l < c.n_layers; l++) want.push(`past_ik_t.${l}`, `past_iksum.${l}`); // [Hkv, E, C] int8 importance keys and their dim sums
    want.push('budget', 'sinks', 'recent');
  }
  const optional = sparse ? ['reuse_selection', 'prev_selected', 'neighbors'] : []; // prediction interval, neighbour fetch
  optional.push('ctx_ids'); // pointer heads
  const missing = want.filter((n) => !s.inputNames.includes(n));
  const extra = s.inputNames.filter((n) => !want.includes(n) && !optional.includes(n));
  if (missing.length || extra.length || !s.outputNames.includes('logits')) {
    // graphs of an older contract land here too (e.g. float32 importance keys without past_iksum)
    throw new ModelError(`graph ${name} does not match manifest config (missing inputs: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'}); re-export the model with training/pipeline/export.py`);
  }
}

export async function loadModel(dir: string, ep: ExecutionProvider, log: (msg: string) => void): Promise<LoadedModel> {
  const t0 = performance.now();
  const manifest = readManifest(dir);
  const config = manifest.config;
  let tokenizer: BpeTokenizer;
  try {
    tokenizer = new BpeTokenizer(JSON.parse(readFileSync(path.join(dir, manifest.tokenizer), 'utf8')));
  } catch (e) {
    throw new ModelError(`tokenizer ${manifest.tokenizer} could not be loaded: ${(e as Error).message}`);
  }
  // imported checkpoints may pad the embedding past the tokenizer (Qwen2: 151,936 rows for 151,665 tokens)
  const padded = manifest.source !== undefined && tokenizer.vocabSize < config.vocab_size;
  if (tokenizer.vocabSize !== config.vocab_size && !padded) {
    throw new ModelError(`tokenizer has ${tokenizer.vocabSize} tokens but the model expects ${config.vocab_size}`);
  }
  const specials = specialsOf(manifest, tokenizer.vocabSize);
  const predictorTrained = (manifest.predictor as { trained?: boolean } | undefined)?.trained !== false;
  let lastErr: unknown;
  for (const candidate of candidates(ep)) {
    try {
      const opts = sessionOptions(candidate);
      const dense = await ort.InferenceSession.create(path.join(dir, manifest.graphs.dense), opts);
      const sparse = await ort.InferenceSession.create(path.join(dir, manifest.graphs.sparse), opts);
      checkGraph(manifest.graphs.dense, dense, config, false);
      checkGraph(manifest.graphs.sparse, sparse, config, true);
      if (candidate !== candidates(ep)[0]) log(`execution provider: using ${candidate}`);
      const selection = { sinks: manifest.selection?.sinks ?? 8, recent: manifest.selection?.recent ?? 128 };
      return { dir, manifest, config, dense, sparse, selection, sparseChunks: sparse.inputNames.includes('reuse_selection'), neighbors: sparse.inputNames.includes('neighbors'), pointer: dense.inputNames.includes('ctx_ids'), tokenizer, specials, predictorTrained, executionProvider: candidate, loadMs: performance.now() - t0 };
    } catch (e) {
      if (e instanceof ModelError) throw e;
      lastErr = e;
      const msg = (e as Error).message.split('\n')[0];
      if (candidate === 'cpu') break;
      log(`execution provider ${candidate} unavailable (${msg}); falling back`);
    }
  }
  throw new ModelError(`could not load the model graphs in ${dir}: ${(lastErr as Error)?.message?.split('\n')[0]}`);
}

/** The manifest's special tokens (ids 0-4 and the suffix-first layout when it names none). */
export function specialsOf(manifest: Manifest, vocabSize: number): Specials {
  const st = (manifest.specialTokens ?? {}) as Record<string, number | number[] | null | undefined>;
  const id = (k: string, dflt?: number): number | undefined => {
    const v = st[k] === undefined ? dflt : st[k];
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize) throw new ModelError(`manifest specialTokens.${k} is not a token id of the tokenizer`);
    return v;
  };
  const imported = manifest.specialTokens !== undefined && (manifest.fim !== undefined || manifest.source !== undefined);
  const dflt = imported ? {} : SPECIAL;
  const s = {
    eot: id('eot', SPECIAL.eot)!,
    bos: id('bos'),
    fimPrefix: id('fimPrefix', (dflt as Partial<typeof SPECIAL>).fimPrefix),
    fimMiddle: id('fimMiddle', (dflt as Partial<typeof SPECIAL>).fimMiddle),
    fimSuffix: id('fimSuffix', (dflt as Partial<typeof SPECIAL>).fimSuffix),
    fileSep: id('fileSep', (dflt as Partial<typeof SPECIAL>).fileSep),
  };
  let fim = (manifest.fim as Specials['fim'] | undefined) ?? 'spm';
  if (!['spm', 'psm', 'none'].includes(fim)) throw new ModelError(`manifest fim ${JSON.stringify(manifest.fim)} is not spm, psm or none`);
  if (fim !== 'none' && (s.fimPrefix === undefined || s.fimSuffix === undefined || (fim === 'psm' && s.fimMiddle === undefined))) fim = 'none';
  const stop = new Set<number>([s.eot]);
  for (const v of [s.fileSep, s.fimPrefix, s.fimMiddle, s.fimSuffix]) if (v !== undefined) stop.add(v);
  if (Array.isArray(st.stop)) for (const v of st.stop) if (Number.isInteger(v)) stop.add(v);
  return { ...s, stop, fim };
}
