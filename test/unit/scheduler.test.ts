import { describe, expect, it } from 'vitest';
import { MAX_QUEUED, WARMUP_IDLE_MS, type JobRequest } from '../../src/engine/scheduler';
import { complete, context, schedulerFixture } from './scheduler-fixture';

const setup = schedulerFixture;

describe('Scheduler', () => {
  it('runs one job at a time, in arrival order', () => {
    const { scheduler, started, finish, replies } = setup();
    scheduler.submit(complete(1, 'a'));
    scheduler.submit(complete(2, 'b'));
    scheduler.submit({ id: 3, type: 'explain', context, selection: 's' });
    expect(started.map((j) => j.request.id)).toEqual([1]);
    finish(1);
    expect(started.map((j) => j.request.id)).toEqual([1, 2]);
    finish(2);
    finish(3);
    expect(started.map((j) => j.request.id)).toEqual([1, 2, 3]);
    expect(replies.map((r) => r.type === 'result' && r.id)).toEqual([1, 2, 3]);
    expect(scheduler.size).toBe(0);
  });

  it('gives each job its own shared cancel flag', () => {
    const { scheduler, started } = setup();
    scheduler.submit(complete(1));
    expect(started[0].cancel).toBeInstanceOf(Int32Array);
    expect(started[0].cancel.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Atomics.load(started[0].cancel, 0)).toBe(0);
  });

  it('a newer complete for the same document cancels the running one and replaces the queued one', () => {
    const { scheduler, started, finish, errorsFor } = setup();
    scheduler.submit(complete(1));
    scheduler.submit(complete(2));
    expect(Atomics.load(started[0].cancel, 0)).toBe(1); // running one told to stop
    expect(scheduler.queuedIds).toEqual([2]);
    scheduler.submit(complete(3));
    expect(errorsFor(2)).toEqual([{ id: 2, type: 'error', message: 'superseded by request 3', cancelled: true }]);
    expect(scheduler.queuedIds).toEqual([3]); // at most one running + one queued per document
    scheduler.onWorkerMessage({ id: 1, type: 'error', message: 'cancelled', cancelled: true });
    expect(started.map((j) => j.request.id)).toEqual([1, 3]);
    expect(Atomics.load(started[1].cancel, 0)).toBe(0);
    finish(3);
    expect(scheduler.size).toBe(0);
  });

  it('does not touch completions of other documents', () => {
    const { scheduler, started, errorsFor } = setup();
    scheduler.submit(complete(1, 'a'));
    scheduler.submit(complete(2, 'b'));
    scheduler.submit(complete(3, 'b'));
    expect(Atomics.load(started[0].cancel, 0)).toBe(0);
    expect(errorsFor(2)[0]).toMatchObject({ cancelled: true });
    expect(scheduler.queuedIds).toEqual([3]);
  });

  it('newer configure/warmup replace queued ones but never cancel a running one', () => {
    const { scheduler, started, errorsFor } = setup();
    const cfg = (id: number): JobRequest => ({
      id,
      type: 'configure',
      config: { modelDir: `/m${id}`, executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 },
    });
    scheduler.submit(cfg(1));
    scheduler.submit(cfg(2));
    scheduler.submit(cfg(3));
    scheduler.submit({ id: 4, type: 'warmup', context });
    scheduler.submit({ id: 5, type: 'warmup', context });
    expect(Atomics.load(started[0].cancel, 0)).toBe(0);
    expect(errorsFor(2)[0]).toMatchObject({ cancelled: true });
    expect(errorsFor(4)[0]).toMatchObject({ cancelled: true });
    expect(scheduler.queuedIds).toEqual([3, 5]);
  });

  it('cancel raises the running flag, or answers a queued job at once', () => {
    const { scheduler, started, errorsFor, finish } = setup();
    scheduler.submit(complete(1, 'a'));
    scheduler.submit(complete(2, 'b'));
    scheduler.cancel(2);
    expect(errorsFor(2)).toEqual([{ id: 2, type: 'error', message: 'cancelled', cancelled: true }]);
    scheduler.cancel(1);
    expect(Atomics.load(started[0].cancel, 0)).toBe(1);
    expect(errorsFor(1)).toEqual([]); // the worker answers for the running job
    scheduler.cancel(99); // unknown: ignored
    finish(1);
    expect(scheduler.size).toBe(0);
    expect(started).toHaveLength(1);
  });

  it('relays events without ending the running job', () => {
    const { scheduler, replies } = setup();
    scheduler.submit(complete(1));
    scheduler.onWorkerMessage({ type: 'event', event: { type: 'progress', done: 1, total: 2 } });
    expect(replies).toEqual([{ type: 'event', event: { type: 'progress', done: 1, total: 2 } }]);
    expect(scheduler.runningId).toBe(1);
  });

  it('failAll answers running and queued jobs and raises their flags', () => {
    const { scheduler, started, errorsFor } = setup();
    scheduler.submit(complete(1, 'a'));
    scheduler.submit(complete(2, 'b'));
    scheduler.failAll('engine worker crashed: boom');
    expect(errorsFor(1)[0]).toMatchObject({ message: 'engine worker crashed: boom' });
    expect(errorsFor(2)[0]).toMatchObject({ message: 'engine worker crashed: boom' });
    expect(Atomics.load(started[0].cancel, 0)).toBe(1);
    expect(scheduler.size).toBe(0);
  });

  it('refuses requests beyond the queue bound', () => {
    const { scheduler, errorsFor } = setup();
    for (let i = 0; i <= MAX_QUEUED + 1; i++) scheduler.submit({ id: i, type: 'explain', context, selection: 's' });
    expect(scheduler.size).toBe(MAX_QUEUED + 1);
    expect(errorsFor(MAX_QUEUED + 1)[0].type === 'error' && errorsFor(MAX_QUEUED + 1)[0]).toMatchObject({ message: expect.stringContaining('busy') });
  });

  describe('warmup: lowest priority', () => {
    const warmup = (id: number): JobRequest => ({ id, type: 'warmup', context });
    const cancelledBy = (s: ReturnType<typeof setup>, id: number) => s.scheduler.onWorkerMessage({ id, type: 'error', message: 'cancelled', cancelled: true });

    it('a complete arriving during a warmup stops it; the warmup resumes after, unanswered meanwhile', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit(complete(2));
      expect(Atomics.load(s.started[0].cancel, 0)).toBe(1); // stops between prefill chunks
      cancelledBy(s, 1); // the worker answers the stopped warmup
      expect(s.errorsFor(1)).toEqual([]); // not answered: requeued
      expect(s.started.map((j) => j.request.id)).toEqual([1, 2]);
      expect(s.scheduler.queuedIds).toEqual([1]);
      s.finish(2);
      expect(s.started.map((j) => j.request.id)).toEqual([1, 2]); // waits for a pause in the requests
      s.advance(WARMUP_IDLE_MS - 1);
      expect(s.scheduler.runningId).toBeUndefined();
      s.advance(1);
      expect(s.started.map((j) => j.request.id)).toEqual([1, 2, 1]);
      expect(Atomics.load(s.started[2].cancel, 0)).toBe(0); // a fresh flag
      s.finish(1);
      expect(s.replies.filter((r) => r.type === 'result').map((r) => r.type === 'result' && r.id)).toEqual([2, 1]);
      expect(s.scheduler.size).toBe(0);
    });

    it('an explain preempts a warmup too', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit({ id: 2, type: 'explain', context, selection: 's' });
      expect(Atomics.load(s.started[0].cancel, 0)).toBe(1);
      cancelledBy(s, 1);
      expect(s.scheduler.runningId).toBe(2);
      expect(s.scheduler.queuedIds).toEqual([1]);
    });

    it('a configure does not preempt a running warmup', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit({ id: 2, type: 'configure', config: { modelDir: '/m', executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 } });
      expect(Atomics.load(s.started[0].cancel, 0)).toBe(0);
    });

    it('queued requests run before a queued warmup, whatever the arrival order', () => {
      const s = setup();
      s.scheduler.submit(complete(1, 'a'));
      s.scheduler.submit(warmup(2));
      s.scheduler.submit(complete(3, 'b'));
      s.scheduler.submit({ id: 4, type: 'explain', context, selection: 's' });
      s.finish(1);
      s.finish(3);
      s.finish(4);
      s.advance(WARMUP_IDLE_MS);
      expect(s.started.map((j) => j.request.id)).toEqual([1, 3, 4, 2]);
    });

    it('a newer warmup replaces the preempted one', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit(complete(2));
      s.scheduler.submit(warmup(3));
      cancelledBy(s, 1);
      expect(s.errorsFor(1)[0]).toMatchObject({ cancelled: true }); // answered: superseded
      s.finish(2);
      s.advance(WARMUP_IDLE_MS);
      expect(s.started.map((j) => j.request.id)).toEqual([1, 2, 3]);
      // while 3 runs (the cursor moved, or another file got the focus): 3 stops and 4 takes its place
      s.scheduler.submit(warmup(4));
      expect(Atomics.load(s.started[2].cancel, 0)).toBe(1);
      expect(s.scheduler.queuedIds).toEqual([4]);
      cancelledBy(s, 3);
      expect(s.errorsFor(3)[0]).toMatchObject({ cancelled: true });
      expect(s.started.map((j) => j.request.id)).toEqual([1, 2, 3, 4]);
      expect(s.scheduler.queuedIds).toEqual([]);
    });

    it('a warmup that finishes although preempted is answered normally', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit(complete(2));
      s.finish(1); // it ended before seeing the flag
      expect(s.replies.some((r) => r.type === 'result' && r.id === 1)).toBe(true);
      expect(s.scheduler.runningId).toBe(2);
      expect(s.scheduler.queuedIds).toEqual([]);
    });

    it('a request during the wait restarts it; the timer is set once', () => {
      const s = setup();
      s.scheduler.submit(complete(1));
      s.scheduler.submit(warmup(2));
      s.finish(1);
      s.advance(1000);
      s.scheduler.submit(complete(3)); // typing goes on
      s.finish(3);
      s.advance(WARMUP_IDLE_MS - 1000); // the first timer fires: too soon after request 3
      expect(s.scheduler.runningId).toBeUndefined();
      expect(s.timers).toHaveLength(1);
      s.advance(1000);
      expect(s.scheduler.runningId).toBe(2);
    });

    it('cancel of a running warmup answers it instead of requeueing', () => {
      const s = setup();
      s.scheduler.submit(warmup(1));
      s.scheduler.submit(complete(2));
      s.scheduler.cancel(1);
      cancelledBy(s, 1);
      expect(s.errorsFor(1)[0]).toMatchObject({ cancelled: true });
      expect(s.scheduler.queuedIds).toEqual([]);
    });
  });
});
