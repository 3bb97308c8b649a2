// ShadowLLM contextual sparsity (issue 29, docs/graph-contract.md "ShadowLLM variant"): which part
// of each decode step the model computes. One small predictor, run once per token on layer 0's
// output, ranks every later layer's query heads and FFN neurons; each of those layers then
// computes only its top `keep` share of heads, of neurons, or of both. Shared by the extension's
// settings, the CLI and the engine, so it imports neither vscode nor onnxruntime.

export const CONTEXTUAL_MODES = ['off', 'heads', 'neurons', 'both'] as const;
export type ContextualMode = (typeof CONTEXTUAL_MODES)[number];

/** The share kept when a mode is on and no share is given: the only setting within 1% bits/byte of
 *  the plain model on its held-out windows (bench/shadowllm.md). */
export const DEFAULT_CONTEXTUAL_KEEP = 0.75;

export interface ContextualSparsity {
  mode: ContextualMode;
  /** share of heads / neurons each masked layer keeps, in (0, 1] */
  keep: number;
}

export const CONTEXTUAL_OFF: ContextualSparsity = { mode: 'off', keep: 1 };

/** Heads and FFN neurons each masked layer computes under `cs` (at least one of each; all of them
 *  for what the mode leaves alone). */
export function keptCounts(cs: ContextualSparsity, nHeads: number, ffnDim: number): { heads: number; neurons: number } {
  const share = (n: number) => Math.min(n, Math.max(1, Math.round(cs.keep * n)));
  return {
    heads: cs.mode === 'heads' || cs.mode === 'both' ? share(nHeads) : nHeads,
    neurons: cs.mode === 'neurons' || cs.mode === 'both' ? share(ffnDim) : ffnDim,
  };
}

/** `MODE` or `MODE:KEEP` (e.g. `neurons:0.5`); `off` takes no share. Returns the setting, or one
 *  sentence saying what is wrong. */
export function parseContextual(raw: string): ContextualSparsity | string {
  const [mode, keepText, ...more] = raw.split(':');
  if (!(CONTEXTUAL_MODES as readonly string[]).includes(mode) || more.length) {
    return `must be off, heads, neurons or both, optionally with :KEEP (e.g. neurons:0.75), got ${JSON.stringify(raw)}`;
  }
  if (keepText === undefined) return mode === 'off' ? CONTEXTUAL_OFF : { mode: mode as ContextualMode, keep: DEFAULT_CONTEXTUAL_KEEP };
  const keep = /^(0(\.[0-9]+)?|1(\.0*)?|\.[0-9]+)$/.test(keepText) ? Number(keepText) : NaN;
  if (mode === 'off') return `must be off alone (off keeps everything), got ${JSON.stringify(raw)}`;
  if (!(keep > 0 && keep <= 1)) return `must keep a share in (0, 1] (MODE:KEEP), got ${JSON.stringify(keepText)}`;
  return { mode: mode as ContextualMode, keep };
}

/** The inverse of parseContextual: `off` or `MODE:KEEP`. */
export function contextualLabel(cs: ContextualSparsity): string {
  return cs.mode === 'off' ? 'off' : `${cs.mode}:${cs.keep}`;
}
