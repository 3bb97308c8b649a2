// Which context tokens a completion read: each sparse step's selection (and what the n-gram lookup
// copied from) adds to a per-token score; the strongest tokens become file spans for the editor.
import type { ChosenSpan } from '../shared/protocol';
import type { Stream } from './layout';
import type { StepOut } from './step';

export interface Attribution {
  score: Float64Array; // per cached token: attention weight received through selection (+ mass the n-gram lookup copied from it)
  heads: Uint16Array; // per cached token: (step, layer, head) selections
  steps: number;
}

export function newAttribution(n: number): Attribution {
  return { score: new Float64Array(n), heads: new Uint16Array(n), steps: 0 };
}

/** Adds one sparse step's selection to the per-token attribution; returns tokens attended per head. */
export function accumulate(a: Attribution, r: StepOut, contextLen: number, sinks: number, recent: number): number | undefined {
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
export function spans(a: Attribution, s: Stream): ChosenSpan[] {
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
