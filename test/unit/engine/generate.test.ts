import { describe, expect, it } from 'vitest';
import { decodeFrom, syntaxRetry, tokenAtCut, type DecodeDeps } from '../../../src/engine/decode/generate';
import type { SyntaxCut as Cut } from '../../../src/engine/monitors/syntax-cut';
import type { StepOut } from '../../../src/engine/step';

// A toy model over a few tokens, completing after a document that ends in `if`; its next-token
// preferences depend on the text it has generated: the fake cache is the list of tokens the steps
// appended, so a wrong rewind shows up as wrong text.
const TOKENS = ['if', ' 0', ' (', 'x', ')', ' {', '\n', '<eot>', ' 0 {'];
const EOT = 7;
const PREFERS: Record<string, string[]> = {
  '': [' 0', ' ('],
  ' 0': [' {'],
  ' 0 {': ['\n'],
  ' (': ['x'],
  ' (x': [')'],
  ' (x)': [' {'],
  ' (x) {': ['\n'],
};

function toyModel(prefers = PREFERS) {
  const cache: number[] = [];
  const decode = (ids: number[]) => ids.map((i) => (i === EOT ? '' : TOKENS[i])).join('');
  const logitsFor = (ids: number[]) => {
    const want = prefers[decode(ids)] ?? ['<eot>'];
    const l = new Float32Array(TOKENS.length).fill(-10);
    want.forEach((t, r) => (l[TOKENS.indexOf(t)] = 10 - r));
    return l;
  };
  let steps = 0;
  const deps: DecodeDeps = {
    step: async (ids) => {
      steps++;
      cache.push(...ids);
      return { logits: logitsFor(cache) } as StepOut;
    },
    selectionOf: () => undefined,
    onStep: () => undefined,
    decode,
    vocabSize: TOKENS.length,
    stop: new Set([EOT]),
    rand: () => 0.5,
    maxNew: 16,
    multiline: false,
    baseIndent: 0,
    interval: 1,
    cancelled: () => false,
  };
  const rewind = async (j: number, out: number[]) => {
    cache.length = 0;
    cache.push(...out.slice(0, j));
    return logitsFor(cache);
  };
  return { deps, cache, decode, logitsFor, rewind, steps: () => steps };
}

/** A syntax cut that refuses ` 0` (after `if`, as the parser would: `'(' expected`). */
async function cutAfterIf(text: string): Promise<Cut | undefined> {
  const at = text.indexOf(' 0');
  return at < 0 ? undefined : { text: text.slice(0, at), cutAt: at, removed: text.slice(at) };
}

describe('decodeFrom', () => {
  it('decodes greedily to the line end and leaves the cache holding what the steps read', async () => {
    const t = toyModel();
    const g = await decodeFrom(t.deps, [], t.logitsFor([]));
    expect(g.text).toBe(' 0 {\n');
    expect(g.stopReason).toBe('max-lines');
    expect(t.decode(t.cache)).toBe(' 0 {'); // the last token is never stepped
  });

  it('the first pick skips the banned tokens, later picks do not', async () => {
    const t = toyModel({ ...PREFERS, ' (x)': [' 0', ' {'], ' (x) 0': ['\n'] });
    const g = await decodeFrom(t.deps, [], t.logitsFor([]), new Set([1]));
    expect(g.text).toBe(' (x) 0\n');
  });
});

describe('syntaxRetry', () => {
  it('goes back to the token the cut fell on and decodes again without it', async () => {
    const t = toyModel();
    const first = await decodeFrom(t.deps, [], t.logitsFor([]));
    const firstCut = (await cutAfterIf(first.text))!;
    expect(firstCut.text).toBe('');
    const r = await syntaxRetry(t.deps, first, firstCut, (j) => t.rewind(j, first.out), cutAfterIf);
    expect(r?.text).toBe(' (x) {\n');
    expect(r?.cut).toBeUndefined();
  });

  it('tries the next choices at the same token while they break the syntax too', async () => {
    // ' 0' and then ' 0 {' are refused; the third choice ' (' parses
    const t = toyModel({ ...PREFERS, '': [' 0', ' 0 {', ' ('] });
    const first = await decodeFrom(t.deps, [], t.logitsFor([]));
    const r = await syntaxRetry(t.deps, first, (await cutAfterIf(first.text))!, (j) => t.rewind(j, first.out), cutAfterIf);
    expect(r?.text).toBe(' (x) {\n');
  });

  it('keeps the first cut when the retry keeps no more of the line', async () => {
    const t = toyModel({ ...PREFERS, '': [' 0', '\n'] });
    const first = await decodeFrom(t.deps, [], t.logitsFor([]));
    const firstCut = (await cutAfterIf(first.text))!;
    expect(await syntaxRetry(t.deps, first, firstCut, (j) => t.rewind(j, first.out), cutAfterIf)).toBeUndefined();
  });

  it('leaves a cut that keeps a word as it is', async () => {
    const t = toyModel({ ...PREFERS, '': ['x'], x: [' 0'], 'x 0': ['\n'] });
    const first = await decodeFrom(t.deps, [], t.logitsFor([]));
    const firstCut = (await cutAfterIf(first.text))!;
    expect(firstCut.text).toBe('x');
    const steps = t.steps();
    expect(await syntaxRetry(t.deps, first, firstCut, (j) => t.rewind(j, first.out), cutAfterIf)).toBeUndefined();
    expect(t.steps()).toBe(steps);
  });

  it('does nothing when the cut is past the last token', async () => {
    const t = toyModel({ '': [' {'], ' {': ['\n'] });
    const first = await decodeFrom(t.deps, [], t.logitsFor([]));
    const steps = t.steps();
    const whole: Cut = { text: first.text, cutAt: first.text.length, removed: '' };
    expect(await syntaxRetry(t.deps, first, whole, (j) => t.rewind(j, first.out), cutAfterIf)).toBeUndefined();
    expect(t.steps()).toBe(steps);
  });
});

describe('tokenAtCut', () => {
  const decode = (ids: number[]) => ids.map((i) => ['foo', '(', 'a', ', ', 'b', ' ', ')'][i]).join('');
  it('finds the first token past the kept characters, trailing spaces not counted', () => {
    expect(tokenAtCut([0, 1, 2, 3, 4], 3, decode)).toBe(1); // "foo" kept: "(" is cut
    expect(tokenAtCut([0, 1, 2, 3, 4], 6, decode)).toBe(4); // "foo(a," kept ("foo(a, " trimmed): "b" is cut
    expect(tokenAtCut([0, 1, 2, 5, 6], 5, decode)).toBe(4); // "foo(a" + " " is still 5: ")" is cut
    expect(tokenAtCut([0, 1], 0, decode)).toBe(0);
    expect(tokenAtCut([0, 1], 4, decode)).toBe(2);
  });
});
