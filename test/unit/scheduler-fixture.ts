// A Scheduler over a fake worker and a fake clock, shared by the scheduler's tests: the worker
// records the jobs it was given and the test finishes them; `advance` moves the clock and runs the
// timers that came due.
import type { ContextPayload, Response } from '../../src/shared/protocol';
import { Scheduler, type JobRequest } from '../../src/engine/scheduler';
import type { WorkerJob } from '../../src/engine/worker-protocol';

export const context: ContextPayload = { files: [], current: { file: 'a.ts', prefix: 'x', suffix: '' } };
export const complete = (id: number, documentKey = 'doc'): JobRequest => ({ id, type: 'complete', context, documentKey });

export function schedulerFixture() {
  const started: WorkerJob[] = [];
  const replies: Response[] = [];
  let t = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const scheduler = new Scheduler({
    startJob: (job) => started.push(job),
    reply: (r) => replies.push(r),
    now: () => t,
    later: (fn, ms) => timers.push({ at: t + ms, fn }),
  });
  const advance = (ms: number) => {
    t += ms;
    for (const due of timers.filter((x) => x.at <= t)) {
      timers.splice(timers.indexOf(due), 1);
      due.fn();
    }
  };
  const finish = (id: number) => scheduler.onWorkerMessage({ id, type: 'result', result: id });
  const stopped = (id: number) => scheduler.onWorkerMessage({ id, type: 'error', message: 'cancelled', cancelled: true });
  const errorsFor = (id: number) => replies.filter((r) => r.type === 'error' && r.id === id);
  const flag = (i: number) => Atomics.load(started[i].cancel, 0);
  return { scheduler, started, replies, finish, stopped, errorsFor, advance, timers, flag };
}
