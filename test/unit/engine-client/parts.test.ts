// The engine client's parts on their own: the crash backoff and the table of requests in flight
// (engine-client.test.ts drives them together through a real engine child).
import { describe, expect, it } from 'vitest';
import { CancelledError, EngineError, EngineTimeoutError } from '../../../src/engine-client';
import { RequestTable } from '../../../src/engine-client/requests';
import { CrashBackoff } from '../../../src/engine-client/restart-policy';
import type { Request } from '../../../src/shared/protocol';

describe('CrashBackoff', () => {
  it('doubles the delay up to the cap, gives up at maxCrashes within the window, and forgets old crashes', () => {
    const b = new CrashBackoff({ initialMs: 100, maxMs: 300, maxCrashes: 4, windowMs: 1000 });
    expect(b.recordCrash(0)).toEqual({ crashes: 1, delayMs: 100 });
    expect(b.recordCrash(10)).toEqual({ crashes: 2, delayMs: 200 });
    expect(b.recordCrash(20)).toEqual({ crashes: 3, delayMs: 300 });
    expect(b.recordCrash(30)).toEqual({ crashes: 4 }); // give up
    expect(b.recordCrash(2000)).toEqual({ crashes: 1, delayMs: 100 }); // the others fell out of the window
    b.reset();
    expect(b.recordCrash(2001)).toEqual({ crashes: 1, delayMs: 100 });
  });
});

describe('RequestTable', () => {
  const token = () => {
    let listener: (() => void) | undefined;
    return {
      isCancellationRequested: false,
      onCancellationRequested: (l: () => void) => ((listener = l), { dispose: () => (listener = undefined) }),
      cancel: () => listener?.(),
    };
  };
  const ctx = { files: [], current: { file: 'a.ts', prefix: 'x', suffix: '' } };

  it('settles a request once: by the answer, and drops a late duplicate', async () => {
    const sent: Request[] = [];
    const t = new RequestTable((m) => sent.push(m));
    const p = t.send({ type: 'warmup', context: ctx });
    expect(sent).toMatchObject([{ id: 1, type: 'warmup' }]);
    t.answer({ id: 1, type: 'result', result: 42 });
    t.answer({ id: 1, type: 'error', message: 'late' });
    await expect(p).resolves.toBe(42);
  });

  it('a cancelled token rejects at once and sends a cancel for the request', async () => {
    const sent: Request[] = [];
    const t = new RequestTable((m) => sent.push(m));
    const tok = token();
    const p = t.send({ type: 'warmup', context: ctx }, { token: tok });
    tok.cancel();
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(sent.at(-1)).toMatchObject({ type: 'cancel', target: 1 });
  });

  it('times out with a cancel to the child, maps error answers, and rejectAll empties the table', async () => {
    const sent: Request[] = [];
    const t = new RequestTable((m) => sent.push(m), { warmup: 10 });
    await expect(t.send({ type: 'warmup', context: ctx })).rejects.toBeInstanceOf(EngineTimeoutError);
    expect(sent.at(-1)).toMatchObject({ type: 'cancel', target: 1 });
    const cancelled = t.send({ type: 'warmup', context: ctx }, { timeoutMs: 10_000 });
    const failed = t.send({ type: 'warmup', context: ctx }, { timeoutMs: 10_000 });
    const left = t.send({ type: 'warmup', context: ctx }, { timeoutMs: 10_000 });
    const [a, b] = sent.filter((m) => m.type === 'warmup').slice(1).map((m) => m.id);
    t.answer({ id: a, type: 'error', message: 'superseded', cancelled: true });
    t.answer({ id: b, type: 'error', message: 'boom' });
    t.rejectAll(() => new EngineError('exited'));
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
    await expect(failed).rejects.toThrow(/boom/);
    await expect(left).rejects.toThrow(/exited/);
  });
});
