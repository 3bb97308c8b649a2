// Monitor sessions over a made-up vocabulary, and every failure path of the language service
// (a missing worker, a worker that errors, one that never answers): each means plain decoding or
// the context prior alone, never an exception or a wait past the deadline.
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MONITOR_OPTIONS, Monitors } from '../../../../src/engine/monitors/monitor';
import { TsService } from '../../../../src/engine/monitors/ts-service';

const VOCAB = ['<eot>', 'al', 'alpha', 'pha', ' x', 'be', 'ta', 'gamma', '(', 'alpha(', 'z', ' alpha', ')', 'beta'];
const id = (t: string) => VOCAB.indexOf(t);
const allowedTexts = (a: Uint8Array | undefined) => (a ? VOCAB.filter((_, i) => a[i]) : undefined);

const dir = mkdtempSync(path.join(tmpdir(), 'tb-monitor-'));
function fakeWorker(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `const { parentPort } = require('worker_threads');\nparentPort.on('message', (m) => {\n${body}\n});\n`);
  return file;
}
const services: TsService[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});
function service(workerPath: string): TsService {
  const s = new TsService(workerPath);
  services.push(s);
  return s;
}

describe('monitor sessions', () => {
  it('statement head: after `if` only an opening bracket, in TypeScript, at the cursor and in generated text', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const s = m.session({ file: 'a.ts', prefix: 'function f(a) {\n  if ', suffix: '\n}', files: [] });
    expect(allowedTexts((await s.next(''))?.allowed)).toEqual(['(']);
    expect(s.events.at(-1)).toMatchObject({ source: 'syntax', at: 0, candidates: 1 });
    expect((await s.next('(alpha) return;\n  while '))?.allowed).toBeDefined();
    expect(s.events.at(-1)?.at).toBe('(alpha) return;\n  while '.length);
    // Python writes no brackets there
    const py = m.session({ file: 'a.py', prefix: 'if ', suffix: '\n', files: [] });
    expect((await py.next(''))?.allowed).toBeUndefined();
  });

  it('after `new `: the bias goes to constructors (a capital), another name stays allowed without it', async () => {
    const vocab = ['<eot>', 'point', 'Point', ' x', '('];
    const m = new Monitors(vocab, undefined, [0], { ...DEFAULT_MONITOR_OPTIONS, lineCopyBias: 0 });
    const prefix = 'const Point = make();\npoint.x = 1;\npoint.y = point.x;\nuse(point);\nconst p = ';
    const plain = await m.session({ file: 'a.js', prefix, suffix: '\n', files: [] }).next('');
    expect(plain!.bias![1]).toBeGreaterThan(0); // a candidate where any value may come
    const s = m.session({ file: 'a.js', prefix: prefix + 'new ', suffix: '\n', files: [] });
    const c = await s.next('');
    expect(c!.bias![2]).toBeGreaterThan(0);
    expect(c!.bias![1]).toBe(0);
    expect(c?.allowed?.[1] ?? 1).toBe(1);
    expect(s.events.at(-1)?.top?.[0]).toBe('Point');
  });

  it('line copy: a bias toward the continuation of an earlier line, added to the names\' constraint, with its own event', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const prefix = 'result = compute(alpha) + 1;\nother = 2;\nresult = compute(';
    const s = m.session({ file: 'a.py', prefix, suffix: '\n', files: [], editorNames: ['alpha', 'beta'] });
    const c = await s.next('');
    expect(allowedTexts(c?.allowed)).toContain('beta'); // the mask is the editor's names, as without the copy
    expect(c!.bias![id('alpha')]).toBeGreaterThan(c!.bias![id('beta')]);
    // the names' bias is the same for both; only 'alpha' continues the copy ('alpha) + 1;'), 'alpha(' runs past it
    expect(c!.bias![id('alpha')]).toBeGreaterThan(c!.bias![id('alpha(')]);
    expect(s.events.find((e) => e.source === 'copy')?.top).toEqual(['alpha) + 1;']);
    // off the copy: no bias from it
    const off = m.session({ file: 'a.py', prefix, suffix: '\n', files: [] });
    expect((await off.next('beta'))?.bias).toBeUndefined();
    const none = new Monitors(VOCAB, undefined, [0], { ...DEFAULT_MONITOR_OPTIONS, lineCopyBias: 0 }).session({ file: 'a.py', prefix, suffix: '\n', files: [] });
    const cn = await none.next('');
    expect(cn!.bias![id('alpha')]).toBe(cn!.bias![id('alpha(')]);
    expect(none.events.some((e) => e.source === 'copy')).toBe(false);
  });

  it('editor names at the cursor: a hard mask that lets a name span tokens and a token run past it', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const s = m.session({ file: 'a.py', prefix: 'x = obj.', suffix: '\n', files: [], editorNames: ['alpha', 'beta'] });
    const c = await s.next('');
    expect(allowedTexts(c?.allowed)).toEqual(['al', 'alpha', 'be', 'alpha(', 'beta']);
    const c2 = await s.next('al');
    expect(allowedTexts(c2?.allowed)).toEqual(['pha']);
    const c3 = await s.next('alpha');
    // the name is whole: it may end (any non-identifier token, or end of text) but not go on as another name
    expect(c3?.allowed?.[id('(')]).toBe(1);
    expect(c3?.allowed?.[id('<eot>')]).toBe(1);
    expect(c3?.allowed?.[id('z')]).toBe(0);
    expect(await s.next('alpha(')).toBeUndefined(); // past the identifier: no constraint
    expect(s.events).toMatchObject([{ at: 0, source: 'editor', candidates: 2 }]);
  });

  it('in an expression position a token may also start something that is not a name', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const s = m.session({ file: 'a.py', prefix: 'f(a,', suffix: '\n', files: [], editorNames: ['alpha'] });
    const allowed = allowedTexts((await s.next(''))?.allowed)!;
    expect(allowed).toContain(' alpha'); // spacing before the name
    expect(allowed).toContain('alpha');
    expect(allowed).toContain(')');
    expect(allowed).not.toContain('gamma');
    expect(allowed).not.toContain('be');
  });

  it('at an identifier start the names\' bias may raise the model\'s probability that a name comes by a bounded gain', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const c = await m.session({ file: 'a.py', prefix: 'alpha = 1\nf(', suffix: '\n', files: [], editorNames: ['alpha'] }).next('');
    expect(c?.classGain).toBe(DEFAULT_MONITOR_OPTIONS.identClassGain);
    expect(c?.keepClass?.[id('alpha')]).toBe(1); // biased
    expect(c?.keepClass?.[id('gamma')]).toBe(2); // a name the editor does not know: closed, its mass goes to the class
    expect(c?.keepClass?.[id(')')]).toBe(0);
    // where the same key took values before, not names, the gain is smaller; names, larger
    const lit = await m.session({ file: 'a.py', prefix: "alpha = 1\nf('x')\nf(2)\nf(", suffix: '\n', files: [], editorNames: ['alpha'] }).next('');
    const { identClassGain: g, identClassHistory: h } = DEFAULT_MONITOR_OPTIONS;
    expect(lit?.classGain).toBeCloseTo(g + h * Math.log(1 / 3), 5);
    const named = await m.session({ file: 'a.py', prefix: 'alpha = 1\nf(alpha)\nf(alpha)\nf(', suffix: '\n', files: [], editorNames: ['alpha'] }).next('');
    expect(named?.classGain).toBeCloseTo(g + h * Math.log(3), 5);
    // after a dot only names can come: the bias is not held to a class
    const d = await m.session({ file: 'a.py', prefix: 'obj.alpha\nobj.', suffix: '\n', files: [], editorNames: ['alpha'] }).next('');
    expect(d?.keepClass).toBeUndefined();
  });

  it('no spacing leads to a name right after a bracket, a space or a dot', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    for (const prefix of ['f(', 'f(a, ', 'x = ']) {
      const allowed = allowedTexts((await m.session({ file: 'a.py', prefix, suffix: '\n', files: [], editorNames: ['alpha'] }).next(''))?.allowed)!;
      expect(allowed, prefix).toContain('alpha');
      expect(allowed, prefix).not.toContain(' alpha');
    }
    // the ranking's bias after `.` goes to the name as written, not to a spaced token
    const c = await m.session({ file: 'a.rb', prefix: 'obj.alpha\nobj.', suffix: '\n', files: [] }).next('');
    expect(c?.bias?.[id('alpha')]).toBeGreaterThan(0);
    expect(c?.bias?.[id(' alpha')]).toBe(0);
  });

  it('the ranking biases toward what followed the same receiver, without masking', async () => {
    const m = new Monitors(VOCAB, undefined, [0], { ...DEFAULT_MONITOR_OPTIONS, memberBias: 5 });
    const s = m.session({ file: 'a.rb', prefix: 'obj.beta\nobj.', suffix: '\n', files: [] });
    const c = await s.next('');
    expect(c?.allowed).toBeUndefined();
    expect(c?.bias?.[id('beta')]).toBe(5);
    expect(c?.bias?.[id('be')]).toBe(5);
    expect(c?.bias?.[id('al')]).toBe(0);
    expect(s.events).toMatchObject([{ source: 'context', prior: true }]);
  });

  it('an unknown language with no editor names and no receiver history: plain decoding', async () => {
    const m = new Monitors(VOCAB, undefined, [0]);
    const s = m.session({ file: 'a.rb', prefix: 'x = obj.', suffix: '\n', files: [] });
    expect(await s.next('')).toBeUndefined();
    expect(s.events).toEqual([]);
  });
});

describe('argument count after a call\'s open bracket (the service\'s signature help)', () => {
  /** A service that answers every names query with no names and `arity`. */
  const arityWorker = (name: string, arity: string) =>
    service(fakeWorker(name, `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });
      if (m.type === 'names') parentPort.postMessage({ id: m.id, type: 'names', result: { names: [], member: false, newIdentifier: false, arity: ${arity}, ms: 1 } });`));
  /** A ready service answering `arity`, and a session at the cursor after `go(` with its query started. */
  const atCall = async (name: string, arity: string) => {
    const ts = arityWorker(name, arity);
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(await ts.whenReady(5000)).toBe(true);
    const s = new Monitors(VOCAB, ts, [0]).session({ file: 'a.ts', prefix: 'const v = go(', suffix: '\n', files: [] });
    s.prefetch();
    return { ts, s };
  };

  it('a callee that takes no argument: only a token that closes the call, at the cursor and in generated text', async () => {
    const { ts, s } = await atCall('arity-none.js', '{ min: 0, max: 0 }');
    expect(allowedTexts((await s.next(''))?.allowed)).toEqual([')']);
    expect(s.events.find((e) => e.top?.[0]?.startsWith('()'))).toMatchObject({ source: 'typescript', top: ['() takes no argument'] });
    const g = new Monitors(VOCAB, ts, [0]).session({ file: 'a.ts', prefix: 'const v = ', suffix: '\n', files: [] });
    expect(allowedTexts((await g.next('alpha('))?.allowed)).toEqual([')']);
    // a space after the bracket: no longer right after it, no constraint from the count
    expect((await g.next('alpha( '))?.allowed?.[id(')')] ?? 1).toBe(1);
    // switched off: the bracket is free
    const off = new Monitors(VOCAB, ts, [0], { ...DEFAULT_MONITOR_OPTIONS, arity: false }).session({ file: 'a.ts', prefix: 'const v = go(', suffix: '\n', files: [] });
    off.prefetch();
    expect((await off.next(''))?.allowed?.[id('alpha')] ?? 1).toBe(1);
  });

  it('a callee that requires an argument: no token that closes the call at once; other tokens stay as they were', async () => {
    const { s } = await atCall('arity-one.js', '{ min: 1, max: 2 }');
    const allowed = allowedTexts((await s.next(''))?.allowed);
    expect(allowed).not.toContain(')');
    expect(allowed).toEqual(expect.arrayContaining(['alpha', 'beta', '(', 'z']));
    expect(s.events.find((e) => e.top?.[0]?.startsWith('()'))).toMatchObject({ top: ['() takes 1+ arguments'] });
    // an optional argument only (min 0, max > 0): no constraint from the count
    const { s: o } = await atCall('arity-opt.js', '{ min: 0, max: 1 }');
    expect((await o.next(''))?.allowed?.[id(')')] ?? 1).toBe(1);
  });
});

describe('the expected type after `receiver.` (the service\'s fits)', () => {
  it('a member that fits the expected type is ranked up by typeFit; off (0), the ranking is as without it', async () => {
    const ts = service(fakeWorker('fits.js', `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });
      if (m.type === 'names') parentPort.postMessage({ id: m.id, type: 'names', result: { names: ['alpha', 'beta'], kinds: ['property', 'property'], fits: ['beta'], member: true, newIdentifier: false, ms: 1 } });`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(await ts.whenReady(5000)).toBe(true);
    // `alpha` followed the receiver twice before: the text's evidence ranks it first
    const input = { file: 'a.ts', prefix: 'obj.alpha;\nobj.alpha;\nconst n: number = obj.', suffix: '\n', files: [] };
    const topWith = async (typeFit: number) => {
      const s = new Monitors(VOCAB, ts, [0], { ...DEFAULT_MONITOR_OPTIONS, typeFit }).session(input);
      s.prefetch();
      await s.next('');
      return s.events.find((e) => e.source === 'typescript')?.top;
    };
    expect(await topWith(0)).toEqual(['alpha', 'beta']);
    expect(await topWith(30)).toEqual(['beta', 'alpha']);
  });
});

describe('a type at the cursor (the parser\'s position)', () => {
  /** A ready service that offers `alpha` and `beta` at an identifier start and reads the position as `position`. */
  const positionWorker = async (name: string, position: string) => {
    const ts = service(fakeWorker(name, `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });
      if (m.type === 'names') parentPort.postMessage({ id: m.id, type: 'names', result: { names: ['alpha', 'beta'], kinds: ['const', 'const'], member: false, newIdentifier: false, ${position} ms: 1 } });`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(await ts.whenReady(5000)).toBe(true);
    return ts;
  };
  // `alpha` followed `f(` before: in an expression the ranking biases it
  const input = { file: 'a.ts', prefix: 'f(alpha);\nf(', suffix: '\n', files: [] };
  const at = async (ts: TsService, positionGate = true) => {
    const s = new Monitors(VOCAB, ts, [0], { ...DEFAULT_MONITOR_OPTIONS, positionGate }).session(input);
    s.prefetch();
    return { c: await s.next(''), s };
  };

  it('in an expression the names constrain and bias the identifier', async () => {
    const { c } = await at(await positionWorker('pos-expr.js', ''));
    expect(c?.bias?.[id('alpha')]).toBeGreaterThan(0);
    expect(c?.allowed?.[id('gamma')]).toBe(0);
  });

  it('in a type: no mask, no bias, no class gain, and the event says why; off, as in an expression', async () => {
    const ts = await positionWorker('pos-type.js', "position: 'type',");
    const { c, s } = await at(ts);
    expect(c).toBeUndefined();
    expect(s.events).toEqual([expect.objectContaining({ source: 'typescript', candidates: 0, top: ['a type: no value names'] })]);
    const off = await at(ts, false);
    expect(off.c?.bias?.[id('alpha')]).toBeGreaterThan(0);
  });
});

describe('language-service failures fail soft', () => {
  const input = { file: 'a.ts', prefix: 'obj.beta;\nobj.', suffix: '\n', files: [] };

  it('a worker that is not there: the service is off and only the prior applies', async () => {
    const ts = service(path.join(dir, 'missing.js'));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(ts.available).toBe(false);
    const s = new Monitors(VOCAB, ts, [0]).session(input);
    s.prefetch();
    const c = await s.next('');
    expect(c?.allowed).toBeUndefined();
    expect(c?.bias).toBeDefined();
  });

  it('a service that throws: no names, no exception', async () => {
    const ts = service(fakeWorker('throws.js', `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });
      else parentPort.postMessage({ id: m.id, type: m.type, offset: -1, ms: 0, error: 'boom' });`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(await ts.whenReady(5000)).toBe(true);
    expect(await ts.names('a.ts', 'obj.', 4, 1000)).toBeUndefined();
    const s = new Monitors(VOCAB, ts, [0]).session(input);
    s.prefetch();
    expect((await s.next(''))?.allowed).toBeUndefined();
  });

  it('a service that never answers: the query gives up at its deadline', async () => {
    const ts = service(fakeWorker('silent.js', `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    await ts.whenReady(5000);
    const t0 = performance.now();
    expect(await ts.names('a.ts', 'obj.', 4, 50)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(5000); // bounded by the deadline (50 ms) with a wide margin for load
    expect(ts.stats.timeouts).toBe(1);
  });

  it('an answer at the cursor that comes after the wait but before the first step (a long prefill) is used; a later one is not waited for', async () => {
    // answers every names query after 400 ms
    const ts = service(fakeWorker('late.js', `if (m.type === 'files') parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 });
      if (m.type === 'names') setTimeout(() => parentPort.postMessage({ id: m.id, type: 'names', result: { names: ['alpha'], member: true, newIdentifier: false, ms: 400 } }), 400);`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    await ts.whenReady(5000);
    const opts = { ...DEFAULT_MONITOR_OPTIONS, cursorTimeoutMs: 20, cursorMaxMs: 5000 };
    const input = { file: 'a.ts', prefix: 'obj.', suffix: '\n', files: [] };
    // the prefill takes longer than the answer: the first step finds it
    const slow = new Monitors(VOCAB, ts, [0], opts).session(input);
    slow.prefetch();
    await new Promise((r) => setTimeout(r, 1500));
    expect(allowedTexts((await slow.next(''))?.allowed)).toContain('alpha');
    expect(slow.events[0]).toMatchObject({ source: 'typescript' });
    // the first step comes at once: it waits 20 ms, not for the answer
    const fast = new Monitors(VOCAB, ts, [0], opts).session(input);
    fast.prefetch();
    expect((await fast.next(''))?.allowed).toBeUndefined(); // had it waited, the mask would hold alpha
  });

  it('a service still loading: no query is made (a cold start never delays a suggestion)', async () => {
    const ts = service(fakeWorker('slow.js', `if (m.type === 'files') setTimeout(() => parentPort.postMessage({ type: 'ready', ms: 1, heapMb: 1, files: 1 }), 60000);`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    expect(await ts.names('a.ts', 'obj.', 4, 1000)).toBeUndefined();
    expect(ts.stats.queries).toBe(0);
  });

  it('a worker that dies: the monitor turns itself off', async () => {
    const ts = service(fakeWorker('dies.js', `process.exit(3);`));
    ts.setFiles([{ name: 'a.ts', text: 'x' }]);
    for (let i = 0; i < 100 && ts.available; i++) await new Promise((r) => setTimeout(r, 20));
    expect(ts.available).toBe(false);
    expect(ts.stats.failed).toMatch(/exited \(3\)/);
  });
});
