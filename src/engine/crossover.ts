// Tokenbutler is never slower than dense: below the context where a sparse step (scoring, top-k,
// gathers) costs more than reading the whole cache, a tokenbutler decode step runs the dense graph,
// which is also exact. The crossover is the model's (manifest.selection.denseBelow, measured with
// `node dist/cli.js bench --dense-below 0 --policies dense,tokenbutler --context 1024,...`, see
// bench/results.md); a manifest without it has no measured crossover and always selects (the
// parity fixtures, older exports). Chunks (prefill) keep their policy: sparse prefill starts past
// SPARSE_PREFILL_FROM and has its own trade-off.
// The switch is on by default (TOKENBUTLER_AUTO_DENSE=0 in the engine's environment or
// setCrossover turns it off). A dense step has no selection to attribute, so a caller that shows
// what the selection read passes `select`: the context highlight when it is on (the complete
// request's `chosen`) and Explain always; those steps keep the sparse graph, so the spans shown are
// TokenButler's choice, and policyUsed reports the graph that ran.
import type { Policy } from '../shared/protocol';
import type { LoadedModel } from './model';

/** The crossover of a manifest that names none: tokenbutler always selects. */
export const DEFAULT_DENSE_BELOW = 0;

type WithManifest = Pick<LoadedModel, 'manifest'>;
const overrides = new WeakMap<object, number>();
const enabled = new WeakMap<object, boolean>();

/** Turns the dense-below-the-crossover switch on or off for this loaded model. */
export function setCrossover(m: WithManifest, on: boolean): void {
  enabled.set(m, on);
}

/** Whether the switch is on for this loaded model (default on; TOKENBUTLER_AUTO_DENSE=0: off). */
export function crossoverOn(m: WithManifest): boolean {
  return enabled.get(m) ?? process.env.TOKENBUTLER_AUTO_DENSE !== '0';
}

const tokens = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The crossover of a loaded model at a prediction interval, in cached tokens (0: tokenbutler
 *  always selects). A selection re-read over an interval costs less per step, so it pays from a
 *  shorter context: `selection.denseBelowByInterval` maps an interval to its crossover (the entry of
 *  the largest interval not above this one applies); without an entry, `selection.denseBelow`. */
export function denseBelow(m: WithManifest, interval = 1): number {
  const o = overrides.get(m);
  if (o !== undefined) return o;
  const sel = m.manifest.selection as { denseBelow?: unknown; denseBelowByInterval?: unknown } | undefined;
  const by = sel?.denseBelowByInterval;
  if (interval > 1 && by && typeof by === 'object') {
    let at = 1;
    let found: number | undefined;
    for (const [k, v] of Object.entries(by)) {
      const i = Number(k);
      if (Number.isInteger(i) && i > at && i <= interval && tokens(v)) [at, found] = [i, v];
    }
    if (found !== undefined) return found;
  }
  return tokens(sel?.denseBelow) ? sel.denseBelow : DEFAULT_DENSE_BELOW;
}

/** Overrides the crossover for this loaded model (the speed bench measures the raw sparse step with 0). */
export function setDenseBelow(m: WithManifest, tokens: number | undefined): void {
  if (tokens === undefined) overrides.delete(m);
  else overrides.set(m, tokens);
}

/** The policy a step over `chunk` new tokens after `cached` ones runs: with the switch on,
 *  tokenbutler decode steps below the crossover run dense, unless the caller needs their selection
 *  (`select`: the highlight or Explain shows it). */
export function stepPolicy(m: WithManifest, policy: Policy, cached: number, chunk = 1, select = false, interval = 1): Policy {
  return policy === 'tokenbutler' && chunk === 1 && !select && cached < denseBelow(m, interval) && crossoverOn(m) ? 'dense' : policy;
}

/** The policy a completion or an explanation over `contextTokens` reports: the one its first
 *  decode step runs (the context grows by at most a completion's length while it decodes). */
export function policyUsed(m: WithManifest, policy: Policy, contextTokens: number, select = false, interval = 1): Policy {
  return stepPolicy(m, policy, contextTokens, 1, select, interval);
}
