// Choosing the next token from the logits: greedy, or temperature + nucleus sampling; both
// restricted to the tokens a monitor allows and shifted by its bias, minus tokens the repetition
// rule bans.
import type { Sampling } from '../../shared/protocol';

export interface TokenFilter {
  allowed?: Uint8Array; // 1 = allowed; absent = all
  bias?: Float32Array;
  /** 1 = a token of the class whose total probability the bias may raise by at most `classGain`
   *  nats: the bias then mostly reorders that class, and the model weighs it against the other
   *  tokens; 2 = a closed token whose probability goes to the class (a name that does not exist,
   *  where the class is the names that do) */
  keepClass?: Uint8Array;
  classGain?: number;
  banned?: Set<number>;
}

function isOpen(f: TokenFilter | undefined, i: number): boolean {
  return !(f?.allowed && !f.allowed[i]) && !f?.banned?.has(i);
}

function score(logits: Float32Array, f: TokenFilter | undefined, i: number, shift = 0): number {
  if (!isOpen(f, i)) return -Infinity;
  if (!f?.bias) return logits[i];
  return logits[i] + f.bias[i] - (f.keepClass?.[i] === 1 ? shift : 0);
}

/** How far the open tokens of class 1 of `keepClass` are shifted down so that their log mass under
 *  the bias (logsumexp of logits + bias) exceeds the model's log mass of the class (logsumexp of
 *  logits over 1 and 2) by at most `classGain` nats. */
export function classShift(logits: Float32Array, f: TokenFilter | undefined): number {
  if (!f?.bias || !f.keepClass || f.classGain === undefined) return 0;
  const c = f.keepClass;
  const to = (i: number) => c[i] === 1 && isOpen(f, i) && logits[i] > -Infinity;
  const from = (i: number) => (c[i] === 2 || to(i)) && logits[i] > -Infinity;
  let m0 = -Infinity;
  let m1 = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (from(i)) m0 = Math.max(m0, logits[i]);
    if (to(i)) m1 = Math.max(m1, logits[i] + f.bias[i]);
  }
  if (m1 === -Infinity) return 0;
  let s0 = 0;
  let s1 = 0;
  for (let i = 0; i < logits.length; i++) {
    if (from(i)) s0 += Math.exp(logits[i] - m0);
    if (to(i)) s1 += Math.exp(logits[i] + f.bias[i] - m1);
  }
  return Math.max(0, m1 + Math.log(s1) - (m0 + Math.log(s0)) - f.classGain);
}

/** Greedy unless sampling asks for a temperature; then nucleus sampling over the top-p mass. If the
 *  filter leaves nothing, it is ignored (the model's own choice beats no suggestion). */
export function pick(logits: Float32Array, s: Sampling | undefined, rand: () => number, f?: TokenFilter): number {
  if (f && !hasAllowed(logits, f)) f = undefined;
  const shift = classShift(logits, f);
  if (!s || !(s.temperature > 0)) return argmaxBy(logits.length, (i) => score(logits, f, i, shift));
  const ids = Array.from(logits.keys()).filter((i) => score(logits, f, i, shift) > -Infinity);
  const max = Math.max(...ids.map((i) => score(logits, f, i, shift)));
  const p = new Map(ids.map((i) => [i, Math.exp((score(logits, f, i, shift) - max) / s.temperature)]));
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
