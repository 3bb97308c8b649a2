// Prefetcher (src/engine-client/prefetch.ts): one speculative answer held for one exact document
// state; other states, a newer prefetch or a discard drop it and cancel its request.
import { describe, expect, it } from 'vitest';
import { CancelSource, Prefetcher, stateAfter, type DocumentState } from '../../../src/engine-client/prefetch';
import type { CancellationTokenLike } from '../../../src/engine-client';

/** A fake engine request: settle it by hand; it rejects when its token is cancelled. */
function fakeRun() {
  const calls: { token: CancellationTokenLike; resolve(v: string): void; reject(e: Error): void }[] = [];
  const run = (token: CancellationTokenLike) =>
    new Promise<string>((resolve, reject) => {
      calls.push({ token, resolve, reject });
      token.onCancellationRequested(() => reject(new Error('cancelled')));
    });
  return { run, calls };
}

const state: DocumentState = { documentKey: 'doc', text: 'let a = 1;\nlet b', offset: 16 };

describe('Prefetcher', () => {
  it('stateAfter inserts the suggestion at the cursor and extends the prefix only', () => {
    const payload = { files: [{ file: 'x.ts', text: 'x' }], current: { file: 'a.ts', prefix: 'let a', suffix: '\nend' } };
    const next = stateAfter('doc', 'let a\nend', 5, ' = 1;', payload);
    expect(next.state).toEqual({ documentKey: 'doc', text: 'let a = 1;\nend', offset: 10 });
    expect(next.payload).toEqual({ files: payload.files, current: { file: 'a.ts', prefix: 'let a = 1;', suffix: '\nend' } });
    expect(payload.current.prefix).toBe('let a'); // the shown suggestion's payload is left as it was
  });

  it('answers only for exactly its state: document, cursor and whole text', async () => {
    const p = new Prefetcher<string>();
    const { run, calls } = fakeRun();
    p.start(state, undefined, run);
    expect(p.take('other', state.offset, () => state.text)).toBeUndefined();
    expect(p.take('doc', state.offset - 1, () => state.text)).toBeUndefined();
    expect(p.take('doc', state.offset, () => state.text.replace('1', '2'))).toBeUndefined();
    const hit = p.take('doc', state.offset, () => state.text);
    expect(hit).toBeDefined();
    calls[0].resolve('= 2;');
    expect(await hit!.result).toBe('= 2;');
    expect(await p.take('doc', state.offset, () => state.text)!.result).toBe('= 2;'); // still held: a second call for the same state
    expect(p.stats).toEqual({ started: 1, hits: 1, discarded: 0, failed: 0 });
  });

  it('reads the document text only when document and cursor match', () => {
    const p = new Prefetcher<string>();
    p.start(state, undefined, fakeRun().run);
    let reads = 0;
    p.take('doc', 3, () => (reads++, state.text));
    p.take('other', state.offset, () => (reads++, state.text));
    expect(reads).toBe(0);
  });

  it('discard cancels the running request and nothing is found after', async () => {
    const p = new Prefetcher<string>();
    const { run, calls } = fakeRun();
    p.start(state, undefined, run);
    p.discard();
    expect(calls[0].token.isCancellationRequested).toBe(true);
    expect(p.take('doc', state.offset, () => state.text)).toBeUndefined();
    expect(p.target).toBeUndefined();
    expect(p.stats.discarded).toBe(1);
  });

  it('a newer prefetch replaces and cancels the older one', () => {
    const p = new Prefetcher<string>();
    const { run, calls } = fakeRun();
    p.start(state, undefined, run);
    const later = { ...state, text: `${state.text} = 3;`, offset: state.offset + 5 };
    p.start(later, undefined, run);
    expect(calls[0].token.isCancellationRequested).toBe(true);
    expect(calls[1].token.isCancellationRequested).toBe(false);
    expect(p.take('doc', state.offset, () => state.text)).toBeUndefined();
    expect(p.target).toEqual(later);
  });

  it('a failed prefetch yields undefined once and is dropped, so the caller asks anew', async () => {
    const p = new Prefetcher<string>();
    const { run, calls } = fakeRun();
    p.start(state, undefined, run);
    const hit = p.take('doc', state.offset, () => state.text)!;
    calls[0].reject(new Error('engine exited with code 1'));
    expect(await hit.result).toBeUndefined();
    expect(p.take('doc', state.offset, () => state.text)).toBeUndefined();
    expect(p.stats).toMatchObject({ hits: 1, failed: 1 });
  });

  it('a run that throws at once is a failed prefetch, not an exception', async () => {
    const p = new Prefetcher<string>();
    p.start(state, undefined, () => {
      throw new Error('engine not running');
    });
    expect(await p.take('doc', state.offset, () => state.text)!.result).toBeUndefined();
  });

  it('an answer that arrives after its cancellation is not used', async () => {
    const p = new Prefetcher<string>();
    let resolve!: (v: string) => void;
    p.start(state, undefined, () => new Promise<string>((r) => (resolve = r)));
    const hit = p.take('doc', state.offset, () => state.text)!;
    p.discard(); // e.g. the engine restarted while it ran
    resolve('stale');
    expect(await hit.result).toBeUndefined();
  });

  it('leadsTo: the held prefetch is for the end of the suggestion being typed', () => {
    const p = new Prefetcher<string>();
    p.start(state, undefined, fakeRun().run);
    expect(p.leadsTo('doc', state.offset - 5, 'b = 1')).toBe(true);
    expect(p.leadsTo('doc', state.offset - 5, 'b = 12')).toBe(false);
    expect(p.leadsTo('other', state.offset - 5, 'b = 1')).toBe(false);
  });

  it('CancelSource calls listeners once, and at once when already cancelled', () => {
    const s = new CancelSource();
    let n = 0;
    const sub = s.token.onCancellationRequested(() => n++);
    s.cancel();
    s.cancel();
    expect(n).toBe(1);
    sub.dispose();
    s.token.onCancellationRequested(() => n++);
    expect(n).toBe(2);
    expect(s.token.isCancellationRequested).toBe(true);
  });
});
