// Token healing: which prompt ends are healed, the text a healed completion shows, the first
// token held to the healed text (with and without a monitor's mask), and the monitors' view of the
// tokens past the healed text.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { healFor, healMask, healNeed, healedAllowed, healedDecode, TOKEN_HEALING, type Heal } from '../../../src/engine/decode/heal';
import { Engine, type Hooks } from '../../../src/engine/engine';
import { decodeFrom, type DecodeDeps } from '../../../src/engine/decode/generate';
import { DEFAULT_MONITOR_OPTIONS, Monitors } from '../../../src/engine/monitors/monitor';
import type { Stream } from '../../../src/engine/layout';
import type { StepOut } from '../../../src/engine/step';

const TOKENS = ['<eot>', ' ', ' =', ' <', 'queue', ' queue', ';', 'x\n', 'ab', 'abc', '\uFFFD', ' 1', 'alpha', ' alpha', ' beta', '(', ' x', 'beta', '    ', '   ', ' return', 'ret'];
const tid = (t: string) => TOKENS.indexOf(t);
const decode = (ids: number[]) => ids.map((i) => (i === 0 ? '' : TOKENS[i])).join('');

/** A stream whose last tokens are the current file's prefix (files: one related file, then the current one). */
function stream(prefixTokens: string[], { inPrefix = true } = {}): Stream {
  const ids = [tid('ab'), ...prefixTokens.map(tid)];
  const n = ids.length;
  return {
    ids,
    fileOf: Int32Array.from(ids.map((_, i) => (i === 0 ? 0 : inPrefix ? 1 : -1))),
    start: new Int32Array(n),
    end: new Int32Array(n),
    files: ['related.ts', 'current.ts'],
    currentStart: 1,
    prefixStart: 1,
  };
}

describe('healFor', () => {
  it('heals a last token that other tokens extend, and keeps the prompt before it', () => {
    const h = healFor(stream(['queue', ' ']), TOKENS)!;
    expect(h.text).toBe(' ');
    expect(h.ids).toEqual([tid('ab'), tid('queue')]);
    expect(TOKENS.filter((_, i) => healMask(TOKENS, h.text)[i])).toEqual([' ', ' =', ' <', ' queue', ' 1', ' alpha', ' beta', ' x', '    ', '   ', ' return']);
  });

  it('heals an indentation run through a shorter one: `    ` may become `   ` + ` return`', () => {
    const h = healFor(stream(['queue', '    ']), TOKENS)!;
    expect(TOKENS.filter((_, i) => healMask(TOKENS, h.text)[i])).toEqual([' ', '    ', '   ']);
    expect(healNeed(h, [tid('   ')])).toBe(' ');
    expect(healNeed(h, [tid('   '), tid(' return')])).toBe('');
    expect(healNeed(h, [tid('    ')])).toBe('');
    expect(healedDecode(decode, h)([tid('   ')])).toBe('');
    expect(healedDecode(decode, h)([tid('   '), tid(' return')])).toBe('return');
  });

  it('does not heal a token nothing extends, a line break, a broken character, or a token outside the prefix', () => {
    expect(healFor(stream(['queue', ';']), TOKENS)).toBeUndefined();
    expect(healFor(stream(['x\n']), TOKENS)).toBeUndefined();
    expect(healFor(stream(['\uFFFD']), TOKENS)).toBeUndefined();
    expect(healFor(stream(['queue', ' '], { inPrefix: false }), TOKENS)).toBeUndefined();
    const empty = stream([]); // the prompt ends in a related file: nothing of the prefix to heal
    empty.prefixStart = 1;
    expect(healFor(empty, TOKENS)).toBeUndefined();
  });

  it('masks are built once per vocabulary and text', () => {
    expect(healMask(TOKENS, 'ab')).toBe(healMask(TOKENS, 'ab'));
    expect(healFor(stream(['abc']), TOKENS)?.text).toBe('abc'); // `ab` spells a part of it
    expect(healFor(stream(['queue', ' queue']), TOKENS)?.text).toBe(' queue'); // ` ` does
  });
});

describe('a healed completion', () => {
  it('shows only what follows the healed text', () => {
    const heal: Heal = { text: ' ', ids: [], tokenText: TOKENS };
    const d = healedDecode(decode, heal);
    expect(d([tid(' ='), tid(' 1')])).toBe('= 1');
    expect(d([tid(' '), tid('queue')])).toBe('queue');
    expect(d([])).toBe('');
    expect(healedDecode(decode, undefined)).toBe(decode);
  });

  it('the first token must begin with the healed text; a monitor mask narrows it unless nothing would be left', () => {
    const heal: Heal = { text: ' ', ids: [], tokenText: TOKENS };
    const names = new Uint8Array(TOKENS.length);
    names[tid(' alpha')] = names[tid('alpha')] = 1;
    expect(TOKENS.filter((_, i) => healedAllowed(heal, ' ', names)[i])).toEqual([' alpha']);
    const off = new Uint8Array(TOKENS.length);
    off[tid('alpha')] = 1;
    expect(healedAllowed(heal, ' ', off)).toBe(healMask(TOKENS, ' '));
    expect(healedAllowed(heal, ' ', undefined)).toBe(healMask(TOKENS, ' '));
  });

  it('decodes from the healed prompt: the model that would write a name after the space writes an operator', async () => {
    // after `ping` + ` ` the toy model prefers `queue` (no space: it never saw a lone space token);
    // healed, it chooses among the tokens that begin with the space
    const prefers: Record<string, string[]> = { '': ['queue', ' =', ' '], ' =': [' 1'], ' = 1': [';'], ' = 1;': ['<eot>'] };
    const cache: number[] = [];
    const logitsFor = (ids: number[]) => {
      const l = new Float32Array(TOKENS.length).fill(-10);
      (prefers[decode(ids)] ?? ['<eot>']).forEach((t, r) => (l[tid(t)] = 10 - r));
      return l;
    };
    const heal: Heal = { text: ' ', ids: [], tokenText: TOKENS };
    const deps: DecodeDeps = {
      step: async (ids) => (cache.push(...ids), { logits: logitsFor(cache) } as StepOut),
      selectionOf: () => undefined,
      onStep: () => undefined,
      decode: healedDecode(decode, heal),
      vocabSize: TOKENS.length,
      stop: new Set([0]),
      rand: () => 0,
      maxNew: 8,
      multiline: false,
      baseIndent: 0,
      interval: 1,
      cancelled: () => false,
      heal,
    };
    const g = await decodeFrom(deps, [], logitsFor([]));
    expect(g.text).toBe('= 1;');
    expect(decode(g.out)).toBe(' = 1;');
    const plain = await decodeFrom({ ...deps, heal: undefined, decode }, [], logitsFor([]));
    expect(plain.text.startsWith('queue')).toBe(true);
    // at an indented line start the prompt ends in `    `; healed, the model writes `   ` + ` return`
    const indent: Heal = { text: '    ', ids: [], tokenText: TOKENS };
    Object.assign(prefers, { '': ['queue', '   '], '   ': [' return'], '    return': ['<eot>'] });
    cache.length = 0;
    const g2 = await decodeFrom({ ...deps, heal: indent, decode: healedDecode(decode, indent) }, [], logitsFor([]));
    expect(decode(g2.out)).toBe('    return');
    expect(g2.text).toBe('return');
  });
});

describe('the monitors past a healed text', () => {
  it('read each token past the lead: ` alpha` leads to the name after `compute(alpha, `, the lead alone goes anywhere', async () => {
    const m = new Monitors(TOKENS, undefined, [0]);
    const prefix = 'y = compute(alpha, beta)\nz = compute(beta, ';
    const s = m.session({ file: 'a.py', prefix, suffix: '\n', files: [], editorNames: ['alpha', 'beta'] });
    const led = (await s.next('', ' '))!;
    const plain = (await m.session({ file: 'a.py', prefix, suffix: '\n', files: [], editorNames: ['alpha', 'beta'] }).next(''))!;
    // without the lead `alpha` is a name and ` alpha` doubles the spacing; past the lead ` alpha` is the name
    expect(plain.allowed![tid('alpha')]).toBe(1);
    expect(plain.allowed![tid(' alpha')]).toBe(0);
    expect(led.allowed![tid(' alpha')]).toBe(1);
    expect(led.allowed![tid(' x')]).toBe(0); // `x` is no name here
    expect(led.allowed![tid(' ')]).toBe(1);
    // the ranking (beta first here) speaks past the lead as it does without it
    expect(plain.bias![tid('beta')]).toBeGreaterThan(0);
    expect(led.bias![tid(' beta')]).toBe(plain.bias![tid('beta')]);
    expect(led.bias![tid(' alpha')]).toBe(plain.bias![tid('alpha')]);
    // the lead alone commits to nothing: under the class gain (an identifier start) it keeps the
    // model's own probability; without one it is biased as the best token
    expect(led.keepClass?.[tid(' ')]).toBe(0);
    expect(led.bias![tid(' ')]).toBe(0);
    const unbounded = new Monitors(TOKENS, undefined, [0], { ...DEFAULT_MONITOR_OPTIONS, identClassGain: Infinity });
    const led2 = (await unbounded.session({ file: 'a.py', prefix, suffix: '\n', files: [], editorNames: ['alpha', 'beta'] }).next('', ' '))!;
    expect(led2.keepClass).toBeUndefined();
    expect(led2.bias![tid(' ')]).toBe(Math.max(...led2.bias!));
    expect(m.view(' ')).toBe(m.view(' '));
  });
});

describe('the engine heals the prompt with the real model', () => {
  const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
  afterAll(() => {
    TOKEN_HEALING.enabled = true;
  });

  it('after `x ` it drops the lone space token from the prompt and the completion follows the space', async () => {
    const engine = new Engine();
    await engine.configure({ modelDir: path.resolve(__dirname, '../../../models/default'), executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 4096, maxNewTokens: 6, monitors: false }, hooks);
    const context = { files: [], current: { file: 'src/a.js', prefix: 'function less(a, b) {\n  return a.level < b.level;\n}\nfunction more(a, b) {\n  return a.level ', suffix: '\n}\n' } };
    const healed = await engine.complete({ context, multiline: false }, hooks);
    expect(healed.healed).toBe(' ');
    expect(healed.reusedTokens + healed.prefilledTokens).toBe(healed.contextTokens);
    TOKEN_HEALING.enabled = false;
    const plain = await engine.complete({ context, multiline: false }, hooks);
    expect(plain.healed).toBeUndefined();
    expect(plain.contextTokens).toBe(healed.contextTokens + 1);
    // the healed completion does not repeat the space the document already has
    expect(healed.completion.startsWith(' ')).toBe(false);
  }, 60_000);
});
