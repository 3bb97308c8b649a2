// The scheduler's speculative completes (the extension's prefetch of the completion that follows
// once the shown suggestion is typed): they run after every other request but a warmup, any other
// request stops them, and a newer one replaces the older one; `typing` delays a warmup like a
// request. The worker is a fake.
import { describe, expect, it } from 'vitest';
import { WARMUP_IDLE_MS, type JobRequest } from '../../../src/engine/scheduler';
import { complete, context, schedulerFixture } from '../scheduler-fixture';

const prefetch = (id: number, documentKey = 'doc'): JobRequest => ({ id, type: 'complete', context, documentKey, speculative: true });
const warmup = (id: number): JobRequest => ({ id, type: 'warmup', context });
const setup = schedulerFixture;

describe('Scheduler: speculative completes (prefetch)', () => {
  it('a complete for the same document stops a running prefetch and runs next', () => {
    const s = setup();
    s.scheduler.submit(prefetch(1));
    expect(s.scheduler.runningId).toBe(1);
    s.scheduler.submit(complete(2));
    expect(s.flag(0)).toBe(1); // stops at its next prefill chunk or decode step
    expect(s.scheduler.queuedIds).toEqual([2]);
    s.stopped(1);
    expect(s.errorsFor(1)).toEqual([{ id: 1, type: 'error', message: 'cancelled', cancelled: true }]); // answered, not requeued
    expect(s.started.map((j) => j.request.id)).toEqual([1, 2]);
    expect(s.flag(1)).toBe(0);
    s.finish(2);
    expect(s.scheduler.size).toBe(0);
  });

  it('a complete for another document, an explain or a configure stops it too', () => {
    for (const other of [
      complete(2, 'other'),
      { id: 2, type: 'explain', context, selection: 's' } as JobRequest,
      { id: 2, type: 'configure', config: { modelDir: '/m', executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 } } as JobRequest,
    ]) {
      const s = setup();
      s.scheduler.submit(prefetch(1));
      s.scheduler.submit(other);
      expect(s.flag(0)).toBe(1);
      s.stopped(1);
      expect(s.scheduler.runningId).toBe(2);
    }
  });

  it('a queued prefetch is answered cancelled by any request and never runs before it', () => {
    const s = setup();
    s.scheduler.submit(complete(1, 'a'));
    s.scheduler.submit(prefetch(2, 'a'));
    expect(s.scheduler.queuedIds).toEqual([2]);
    expect(s.flag(0)).toBe(0); // a prefetch never stops a request
    s.scheduler.submit(complete(3, 'b'));
    expect(s.errorsFor(2)).toEqual([{ id: 2, type: 'error', message: 'prefetch stopped by request 3', cancelled: true }]);
    expect(s.scheduler.queuedIds).toEqual([3]);
    s.finish(1);
    s.finish(3);
    expect(s.started.map((j) => j.request.id)).toEqual([1, 3]);
  });

  it('a prefetch does not supersede the completion of its own document', () => {
    const s = setup();
    s.scheduler.submit(complete(1));
    s.scheduler.submit(complete(2));
    s.scheduler.submit(prefetch(3));
    expect(s.errorsFor(2)).toEqual([]);
    expect(s.scheduler.queuedIds).toEqual([2, 3]);
    s.stopped(1);
    s.finish(2);
    expect(s.scheduler.runningId).toBe(3); // after the request, not before
  });

  it('runs before a queued warmup and without waiting for a pause', () => {
    const s = setup();
    s.scheduler.submit(complete(1));
    s.scheduler.submit(warmup(2));
    s.scheduler.submit(prefetch(3));
    s.finish(1);
    expect(s.scheduler.runningId).toBe(3);
    s.finish(3);
    expect(s.scheduler.runningId).toBeUndefined(); // the warmup waits for the pause after the prefetch
    s.advance(WARMUP_IDLE_MS);
    expect(s.scheduler.runningId).toBe(2);
  });

  it('stops a running warmup, which resumes after it', () => {
    const s = setup();
    s.scheduler.submit(warmup(1));
    s.scheduler.submit(prefetch(2));
    expect(s.flag(0)).toBe(1);
    s.stopped(1);
    expect(s.errorsFor(1)).toEqual([]); // requeued, not answered
    expect(s.scheduler.runningId).toBe(2);
    s.finish(2);
    s.advance(WARMUP_IDLE_MS);
    expect(s.started.map((j) => j.request.id)).toEqual([1, 2, 1]);
  });

  it('a newer prefetch replaces the older one, whatever its document', () => {
    const s = setup();
    s.scheduler.submit(complete(1));
    s.scheduler.submit(prefetch(2, 'a'));
    s.scheduler.submit(prefetch(3, 'b'));
    expect(s.errorsFor(2)[0]).toMatchObject({ cancelled: true });
    s.finish(1);
    expect(s.scheduler.runningId).toBe(3);
    s.scheduler.submit(prefetch(4, 'a'));
    expect(s.flag(1)).toBe(1);
    s.stopped(3);
    expect(s.scheduler.runningId).toBe(4);
  });

  it('is not counted as a document\'s completion in the queue stats', () => {
    const s = setup();
    s.scheduler.submit(complete(1));
    s.scheduler.submit(complete(2));
    s.scheduler.submit(prefetch(3));
    expect(s.scheduler.stats).toEqual({ running: 1, queued: 2, perDocument: 2 });
  });

  it('typing (answered by the extension without a request) keeps a preempted warmup waiting', () => {
    const s = setup();
    s.scheduler.submit(warmup(1));
    s.scheduler.submit(prefetch(2));
    s.stopped(1);
    s.finish(2); // the prefetch ends; its answer is used later, when the user has typed the suggestion
    s.advance(WARMUP_IDLE_MS - 100);
    s.scheduler.typing();
    s.advance(100); // the first timer fires: too soon after the typing
    expect(s.scheduler.runningId).toBeUndefined();
    s.advance(WARMUP_IDLE_MS - 100);
    expect(s.scheduler.runningId).toBe(1);
    expect(s.replies.filter((r) => r.type !== 'event').map((r) => r.id)).toEqual([2]); // typing is never answered
  });

  it('typing stops a running warmup, which resumes after the pause, unanswered meanwhile', () => {
    const s = setup();
    s.scheduler.submit(warmup(1));
    expect(s.scheduler.runningId).toBe(1);
    s.scheduler.typing();
    expect(s.flag(0)).toBe(1); // stops at its next prefill chunk: the completion after the typing finds the worker free
    s.stopped(1);
    expect(s.errorsFor(1)).toEqual([]); // requeued, not answered
    expect(s.scheduler.runningId).toBeUndefined();
    s.scheduler.typing(); // more typing: nothing running, nothing to stop
    s.advance(WARMUP_IDLE_MS);
    expect(s.started.map((j) => j.request.id)).toEqual([1, 1]);
    expect(s.flag(1)).toBe(0);
  });

  it('a prefetch that finished before seeing its flag is answered normally', () => {
    const s = setup();
    s.scheduler.submit(prefetch(1));
    s.scheduler.submit(complete(2));
    s.finish(1);
    expect(s.replies.some((r) => r.type === 'result' && r.id === 1)).toBe(true);
    expect(s.scheduler.runningId).toBe(2);
  });
});
