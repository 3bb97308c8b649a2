// The decode loop of a completion: pick a token under the monitors' constraint and the repetition
// bans, stop at a stop token, a line rule or a loop, run the next step; and the syntax retry, which
// goes back to the token where the syntax cut fell and decodes again from there without it.
import type { CompleteResult, Sampling } from '../../shared/protocol';
import type { MonitorSession } from '../monitors/monitor';
import { shownText, type SyntaxCut } from '../monitors/syntax-cut';
import type { StepOut } from '../step';
import { noPadding, pick } from './sampling';
import { lineStop, repeats, repetitionBans, trimAtStop } from './stop-rules';
import { healedAllowed, healNeed, type Heal } from './heal';

export interface DecodeDeps {
  /** one decode step over `ids` after the cache (reuse: the previous selection, prediction interval) */
  step(ids: number[], reuse: BigInt64Array | undefined): Promise<StepOut>;
  /** the step's selection, to reuse under a prediction interval */
  selectionOf(r: StepOut): BigInt64Array | undefined;
  /** what a step read (attribution for the highlight and Explain) */
  onStep(r: StepOut): void;
  decode(ids: number[]): string;
  vocabSize: number;
  stop: ReadonlySet<number>;
  monitor?: MonitorSession;
  sampling?: Sampling;
  rand: () => number;
  maxNew: number;
  multiline: boolean;
  baseIndent: number;
  /** the cursor's line before the cursor (stop-rules.ts lineStop) */
  lineHead?: string;
  interval: number;
  cancelled(): boolean;
  /** token healing (heal.ts): the prompt's dropped last token; `decode` then leaves its text out */
  heal?: Heal;
}

export interface Decoded {
  out: number[];
  text: string;
  stopReason: CompleteResult['stopReason'];
  /** time the loop waited on the monitors */
  monitorMs: number;
}

/** Decodes after `out` (tokens already accepted, all of them in the cache) from `logits` (the
 *  distribution after `out`); `banFirst` are tokens the first pick may not take. On return the
 *  cache holds the context and every token of `out` that a step has read. */
export async function decodeFrom(d: DecodeDeps, out: number[], logits: Float32Array, banFirst?: ReadonlySet<number>): Promise<Decoded> {
  out = [...out];
  let text = d.decode(out);
  let stopReason: CompleteResult['stopReason'] = 'max-tokens';
  let lineFrom = lineStart(out, d.decode); // index in `out` of the current line's first token
  let stepNo = 0;
  let lastSelection: BigInt64Array | undefined;
  let monitorMs = 0;
  let ban = banFirst;
  // a monitor that fails means plain decoding for that step, never a failed completion
  // a healed prompt's first tokens spell the healed text out: the monitors read each token past what is left of it
  let need = healNeed(d.heal, out);
  let pending = d.monitor?.next(text, need).catch(() => undefined);
  for (let i = out.length; i < d.maxNew; i++) {
    const tw = performance.now();
    let constraint = pending ? await pending : undefined;
    monitorMs += performance.now() - tw;
    if (d.heal && need) constraint = { ...constraint, allowed: healedAllowed(d.heal, need, constraint?.allowed) };
    let banned = repetitionBans(out, lineFrom);
    if (ban) banned = new Set([...(banned ?? []), ...ban]);
    ban = undefined;
    const next = pick(noPadding(logits, d.vocabSize), d.sampling, d.rand, { ...constraint, banned });
    if (d.stop.has(next)) {
      stopReason = 'eot';
      break;
    }
    out.push(next);
    need = healNeed(d.heal, out);
    text = d.decode(out);
    if (d.decode([next]).includes('\n')) lineFrom = out.length;
    const stop = lineStop(text, d.multiline, d.baseIndent, d.lineHead);
    if (stop) {
      stopReason = stop;
      break;
    }
    if (d.cancelled()) {
      stopReason = 'cancelled';
      break;
    }
    if (i === d.maxNew - 1) break;
    const reuse = d.interval > 1 && stepNo % d.interval !== 0 ? lastSelection : undefined;
    // the monitors read the new text while the model runs the step: a language-service query overlaps it
    pending = d.monitor?.next(text, need).catch(() => undefined);
    const r = await d.step([next], reuse);
    stepNo++;
    if (d.interval > 1) lastSelection = d.selectionOf(r);
    logits = r.logits;
    d.onStep(r);
    if (repeats(out)) {
      stopReason = 'repetition';
      break;
    }
  }
  return { out, text, stopReason, monitorMs };
}

function lineStart(out: number[], decode: (ids: number[]) => string): number {
  for (let j = out.length - 1; j >= 0; j--) if (decode([out[j]]).includes('\n')) return j + 1;
  return 0;
}

/** The index in `out` of the first token that reaches past the first `keep` characters of the
 *  decoded text (trailing spaces and tabs not counted): where a syntax cut at `keep` falls. */
export function tokenAtCut(out: number[], keep: number, decode: (ids: number[]) => string): number {
  for (let j = 0; j < out.length; j++) {
    if (decode(out.slice(0, j + 1)).replace(/[ \t]+$/, '').length > keep) return j;
  }
  return out.length;
}

/** Tries of the syntax retry, each without the tokens the earlier ones broke the syntax with. */
export const SYNTAX_RETRIES = 3;

export interface Retried {
  decoded: Decoded;
  /** the retry's text after its own syntax cut */
  text: string;
  cut?: SyntaxCut;
}

/** A syntax cut drops what follows the token that introduced a parse error, and where that token
 *  comes before any word (`if` + ` 0 < dx) {`) nothing is left to suggest. Going back to that token
 *  and decoding again without it (the model's next choice there, under the same monitors) often
 *  gives a line that parses: taken when its clean part is longer; up to SYNTAX_RETRIES choices at
 *  that token. Only there: where the cut keeps a word, a retry mostly lengthens a fine suggestion
 *  with what the model was less sure of (measured on the tuning half). `rewind(j)` makes the cache
 *  hold the context and out[0..j) and returns the logits after them; `cut` is the syntax cut. */
export async function syntaxRetry(d: DecodeDeps, first: Decoded, firstCut: SyntaxCut, rewind: (j: number) => Promise<Float32Array>, cut: (text: string, out: number[]) => Promise<SyntaxCut | undefined>): Promise<Retried | undefined> {
  if (/\w/.test(firstCut.text)) return undefined;
  const j = tokenAtCut(first.out, firstCut.cutAt, d.decode);
  if (j >= first.out.length) return undefined;
  const banned = new Set([first.out[j]]);
  for (let attempt = 0; attempt < SYNTAX_RETRIES; attempt++) {
    const decoded = await decodeFrom(d, first.out.slice(0, j), await rewind(j), banned);
    if (decoded.stopReason === 'cancelled') return { decoded, text: '' };
    const whole = trimAtStop(decoded.text, decoded.stopReason, d.lineHead);
    const c = await cut(whole, decoded.out);
    const text = c ? c.text : whole;
    if (shownText(text, d.multiline).trimEnd().length > firstCut.text.trimEnd().length) return { decoded, text, cut: c };
    // the next choice at the same token broke the syntax too: one more try without it
    if (!c || tokenAtCut(decoded.out, c.cutAt, d.decode) !== j || j >= decoded.out.length) return undefined;
    banned.add(decoded.out[j]);
  }
  return undefined;
}
