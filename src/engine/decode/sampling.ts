// Choosing the next token from the logits: greedy, or temperature + nucleus sampling; both
// restricted to the tokens a monitor allows and shifted by its bias, minus tokens the repetition
// rule bans.
import type { Sampling } from '../../shared/protocol';

export interface TokenFilter {
  allowed?: Uint8Array; // 1 = allowed; absent = all
  bias?: Float32Array;
  banned?: Set<number>;
}

function score(logits: Float32Array, f: TokenFilter | undefined, i: number): number {
  if (f?.allowed && !f.allowed[i]) return -Infinity;
  if (f?.banned?.has(i)) return -Infinity;
  return f?.bias ? logits[i] + f.bias[i] : logits[i];
}

/** Greedy unless sampling asks for a temperature; then nucleus sampling over the top-p mass. If the
 *  filter leaves nothing, it is ignored (the model's own choice beats no suggestion). */
export function pick(logits: Float32Array, s: Sampling | undefined, rand: () => number, f?: TokenFilter): number {
  if (f && !hasAllowed(logits, f)) f = undefined;
  if (!s || !(s.temperature > 0)) return argmaxBy(logits.length, (i) => score(logits, f, i));
  const ids = Array.from(logits.keys()).filter((i) => score(logits, f, i) > -Infinity);
  const max = Math.max(...ids.map((i) => score(logits, f, i)));
  const p = new Map(ids.map((i) => [i, Math.exp((score(logits, f, i) - max) / s.temperature)]));
  ids.sort((a, b) => p.get(b)! - p.get(a)!);
  const total = ids.reduce((x, i) => x + p.get(i)!, 0);
  const cut = (s.topP ?? 1) * total;
  let acc = 0;
  let n = 0;
  while (n < ids.length && acc < cut) acc += p.get(ids[n++])!;
  let r = rand() * acc;
  for (let i = 0; i < n; i++) {
    r -= p.get(ids[i])!;
    if (r <= 0) return ids[i];
  }
  return ids[n - 1];
}

function hasAllowed(logits: Float32Array, f: TokenFilter): boolean {
  for (let i = 0; i < logits.length; i++) if (score(logits, f, i) > -Infinity) return true;
  return false;
}

function argmaxBy(n: number, v: (i: number) => number): number {
  let best = 0;
  let bv = v(0);
  for (let i = 1; i < n; i++) {
    const x = v(i);
    if (x > bv) {
      best = i;
      bv = x;
    }
  }
  return best;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export function logSoftmaxAt(x: Float32Array, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return x[id] - max - Math.log(sum);
}

/** An imported model may have more output rows than its tokenizer has tokens (padded embeddings):
 *  those ids can never be decoded, so they get no probability. */
export function noPadding(logits: Float32Array, vocabSize: number): Float32Array {
  if (logits.length > vocabSize) logits.fill(-Infinity, vocabSize);
  return logits;
}
