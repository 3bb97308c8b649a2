// ShadowLLM contextual sparsity in the engine (src/shared/contextual.ts; docs/graph-contract.md
// "ShadowLLM variant"). A model folder that ships the variant graphs names them in manifest.shadow;
// they take every input of the plain graphs plus `ffn_keep` and `head_keep`, and a decode step
// (one token) computes only that many FFN neurons and query heads in each masked layer. Prefill
// chunks, and keeps of everything, take the plain path inside the graph. The variant sessions are
// created on first use and kept, so switching the setting back and forth costs one load.
// Everything here fails soft: a folder without the graphs, or graphs that do not load, run dense
// in heads and neurons, and the log says so once per model.
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { DEFAULT_CONTEXTUAL_KEEP, keptCounts, type ContextualSparsity } from '../shared/contextual';
import type { ContextualReport, EngineConfig } from '../shared/protocol';
import type { LoadedModel } from './model';
import { checkModelFile, sessionOptions } from './model';

/** manifest.shadow as the engine reads it. */
interface ShadowManifest {
  graphs: { dense: string; sparse: string };
  /** the masked layers (every layer after the predictor's input layer) */
  layers: number[];
}

/** What a decode step runs while contextual sparsity is on. */
export interface ActiveContextual {
  mode: ContextualSparsity['mode'];
  dense: ort.InferenceSession;
  sparse: ort.InferenceSession;
  /** query heads and FFN neurons each masked layer computes */
  heads: number;
  neurons: number;
  layers: number[];
  /** the extra inputs of every run (`ffn_keep`, `head_keep`) */
  feeds: Record<string, ort.Tensor>;
}

const sessions = new WeakMap<LoadedModel, Promise<{ dense: ort.InferenceSession; sparse: ort.InferenceSession } | string>>();
const noticed = new WeakMap<LoadedModel, string>();

function shadowOf(m: LoadedModel): ShadowManifest | undefined {
  const s = m.manifest.shadow as Partial<ShadowManifest> | undefined;
  return s?.graphs?.dense && s.graphs.sparse && Array.isArray(s.layers) ? (s as ShadowManifest) : undefined;
}

async function openSessions(m: LoadedModel, s: ShadowManifest): Promise<{ dense: ort.InferenceSession; sparse: ort.InferenceSession } | string> {
  const opts = sessionOptions(m.executionProvider);
  const opened: ort.InferenceSession[] = [];
  try {
    for (const file of [s.graphs.dense, s.graphs.sparse]) {
      checkModelFile(m.dir, m.manifest, file); // left to first use by loadModel
      opened.push(await ort.InferenceSession.create(path.join(m.dir, file), opts));
    }
    const [dense, sparse] = opened;
    for (const [file, g, plain] of [[s.graphs.dense, dense, m.dense], [s.graphs.sparse, sparse, m.sparse]] as const) {
      const missing = [...plain.inputNames, 'ffn_keep', 'head_keep'].filter((n) => !g.inputNames.includes(n));
      if (missing.length) throw new Error(`${file} lacks the inputs ${missing.join(', ')}`);
    }
    return { dense, sparse };
  } catch (e) {
    await Promise.all(opened.map((g) => g.release().catch(() => undefined)));
    return (e as Error).message.split('\n')[0];
  }
}

/** The decode-step graphs and keeps for `cs` on this model, or undefined for the plain graphs: the
 *  setting is off or keeps everything, or the folder has no usable variant (logged once per model). */
export async function activateContextual(m: LoadedModel, cs: ContextualSparsity, log: (message: string) => void): Promise<ActiveContextual | undefined> {
  const nHeads = m.config.n_heads;
  const ffnDim = m.config.ffn_dim ?? 0;
  if (cs.mode === 'off') return undefined;
  const say = (why: string) => {
    if (noticed.get(m) === why) return;
    noticed.set(m, why);
    log(`contextual sparsity (${cs.mode}) is off for model ${m.manifest.name}: ${why}; it runs dense in heads and neurons`);
  };
  const s = shadowOf(m);
  if (!s || !Number.isInteger(ffnDim) || ffnDim < 1) {
    say('the model folder has no ShadowLLM predictor (manifest.shadow)');
    return undefined;
  }
  const { heads, neurons } = keptCounts(cs, nHeads, ffnDim);
  if (heads === nHeads && neurons === ffnDim) return undefined;
  if (!sessions.has(m)) sessions.set(m, openSessions(m, s));
  const g = await sessions.get(m)!;
  if (typeof g === 'string') {
    say(`its ShadowLLM graphs did not load (${g})`);
    return undefined;
  }
  const feeds = {
    ffn_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(neurons)), [1]),
    head_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(heads)), [1]),
  };
  return { ...g, mode: cs.mode, heads, neurons, layers: s.layers, feeds };
}

/** What each masked layer computes per decode step while contextual sparsity is on (Explain, the status tooltip). */
export function contextualReport(m: LoadedModel, a: ActiveContextual): ContextualReport {
  return { mode: a.mode, layers: a.layers, heads: { kept: a.heads, of: m.config.n_heads }, neurons: { kept: a.neurons, of: m.config.ffn_dim ?? a.neurons } };
}

/** The setting an engine configuration asks for (absent: off). */
export function contextualOf(cfg: Pick<EngineConfig, 'contextualSparsity' | 'contextualKeep'>): ContextualSparsity {
  return { mode: cfg.contextualSparsity ?? 'off', keep: cfg.contextualKeep ?? DEFAULT_CONTEXTUAL_KEEP };
}

/** Releases the variant sessions of a model being unloaded. */
export async function releaseContextual(m: LoadedModel): Promise<void> {
  const g = await sessions.get(m);
  sessions.delete(m);
  if (g && typeof g !== 'string') await Promise.all([g.dense.release(), g.sparse.release()]).catch(() => undefined);
}
