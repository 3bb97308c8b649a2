// The engine child's job queue, kept free of IPC and threads so it can be unit-tested.
//
// The inference worker runs one job at a time (session.run blocks its thread), so the scheduler
// hands it exactly one job and queues the rest in arrival order. Rules:
// - a newer `complete` for the same documentKey supersedes the older one: a queued one is
//   answered "cancelled" at once, a running one gets its cancel flag raised (the worker stops
//   between decode steps and answers itself). So each document has at most one running and one
//   queued completion.
// - a newer `configure` or `warmup` replaces a queued (not running) one of the same type.
// - `cancel` raises the flag of a running job or drops a queued one.
// - `warmup` (the background prefill of a file's context) has the lowest priority: any other job
//   queued runs before it, and a `complete` or `explain` arriving while a warmup runs raises the
//   warmup's flag (the worker stops between prefill chunks; what it prefilled stays cached). The
//   preempted warmup is not answered: it goes back in the queue and resumes (reusing the cached
//   part) when nothing else waits, unless a newer warmup has replaced it meanwhile. A newer warmup
//   stops a running one the same way (the cursor moved or another file got the focus: the window
//   at the new cursor comes first, and what the old one cached stays).
// - a warmup starts only once no complete or explain has ended for WARMUP_IDLE_MS: the context
//   cache is append-only with the current file last, so a warmup reading related files drops the
//   current file's cached tokens, and a completion asked while the user is still typing would
//   have to prefill the whole current file again (bench/first-suggestion.md).
// - a `speculative` complete (the extension's prefetch of the completion that follows once the
//   shown suggestion is typed) runs only when no other request but a warmup waits, and any other
//   request (complete, explain, configure) answers a queued one "cancelled" and raises a running
//   one's flag, so a prefetch delays a request by at most one prefill chunk or decode step. A newer
//   speculative replaces the older one, whatever its document. Like a complete it stops a running
//   warmup and counts as a request for WARMUP_IDLE_MS (the user is typing).
// - a `typing` message (the user typed in the active editor, whether or not a request followed)
//   stops a running warmup like a request and counts like one for WARMUP_IDLE_MS, so a warmup does
//   not resume while the user types through suggestions, and the completion the typing leads to
//   does not wait for a warmup's chunk in progress.
// - the queue is bounded; beyond the bound a request is refused with an error.
import type { Response } from '../shared/protocol';
import type { WorkerJob } from './worker-protocol';

export type JobRequest = WorkerJob['request'];

export interface SchedulerIO {
  /** Give a job to the worker. Called only when no job is running. */
  startJob(job: WorkerJob): void;
  /** Answer the parent process. */
  reply(response: Response): void;
  /** The queue changed (the child reports it to the parent as a `queue` event). */
  queueChanged?(stats: QueueStats): void;
  /** Clock and timer for WARMUP_IDLE_MS (tests pass fakes); default performance.now and an unref'd setTimeout. */
  now?(): number;
  later?(fn: () => void, ms: number): void;
}

export interface QueueStats {
  running: number; // 0 or 1
  queued: number;
  /** Most completions (running + queued) held for any one document, prefetches not counted: at most 2 by the rules above. */
  perDocument: number;
}

export const MAX_QUEUED = 32;
/** A warmup waits until requests have paused this long (typing asks every few hundred ms). */
export const WARMUP_IDLE_MS = 1500;

export function newCancelFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Requests that supersede each other share a key; `undefined` = never superseded. */
const isSpeculative = (request: JobRequest) => request.type === 'complete' && request.speculative === true;
/** Background jobs: they run only when nothing else waits. */
const isBackground = (request: JobRequest) => request.type === 'warmup' || isSpeculative(request);

function supersessionKey(request: JobRequest): string | undefined {
  switch (request.type) {
    case 'complete':
      return request.speculative ? 'speculative' : `complete:${request.documentKey}`;
    case 'configure':
      return 'configure';
    case 'warmup':
      return 'warmup';
    default:
      return undefined;
  }
}

export class Scheduler {
  private running: WorkerJob | undefined;
  /** The running job is a warmup stopped for a request: requeue it when the worker answers. */
  private preempted = false;
  /** When the last complete or explain ended (or was submitted), on io.now's clock. */
  private lastRequestAt = -Infinity;
  private timerSet = false;
  private readonly queue: WorkerJob[] = [];
  private lastStats = '';

  constructor(private readonly io: SchedulerIO) {}

  get stats(): QueueStats {
    const perDoc = new Map<string, number>();
    for (const job of [...(this.running ? [this.running] : []), ...this.queue]) {
      if (job.request.type === 'complete' && !job.request.speculative) perDoc.set(job.request.documentKey, (perDoc.get(job.request.documentKey) ?? 0) + 1);
    }
    return { running: this.running ? 1 : 0, queued: this.queue.length, perDocument: Math.max(0, ...perDoc.values()) };
  }

  /** Number of jobs running or waiting. */
  get size(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  get runningId(): number | undefined {
    return this.running?.request.id;
  }

  get queuedIds(): number[] {
    return this.queue.map((j) => j.request.id);
  }

  submit(request: JobRequest): void {
    const key = supersessionKey(request);
    if (key !== undefined) {
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const older = this.queue[i];
        if (supersessionKey(older.request) === key) {
          this.queue.splice(i, 1);
          this.answerCancelled(older, `superseded by request ${request.id}`);
        }
      }
      if (request.type === 'complete' && this.running && supersessionKey(this.running.request) === key) {
        Atomics.store(this.running.cancel, 0, 1);
      }
    }
    if (!isBackground(request)) this.stopSpeculative(request.id);
    if (request.type === 'complete' || request.type === 'explain') this.lastRequestAt = this.now();
    if (request.type === 'complete' || request.type === 'explain' || request.type === 'warmup') this.stopWarmup();
    if (this.queue.length >= MAX_QUEUED) {
      this.io.reply({ id: request.id, type: 'error', message: `engine busy: ${this.queue.length} requests already queued` });
      return;
    }
    this.queue.push({ request, cancel: newCancelFlag() });
    this.pump();
    this.report();
  }

  /** The user typed: a running warmup stops at its next chunk (the completion that follows the
   *  typing then finds the worker free instead of waiting for the chunk in progress), and a warmup
   *  waits WARMUP_IDLE_MS from now. */
  typing(): void {
    this.lastRequestAt = Math.max(this.lastRequestAt, this.now());
    this.stopWarmup();
  }

  /** A running warmup stops between prefill chunks and goes back in the queue (see onWorkerMessage). */
  private stopWarmup(): void {
    if (this.running?.request.type !== 'warmup' || Atomics.load(this.running.cancel, 0) !== 0) return;
    this.preempted = true;
    Atomics.store(this.running.cancel, 0, 1);
  }

  cancel(target: number): void {
    if (this.running?.request.id === target) {
      this.preempted = false; // cancelled by its sender: answered, not requeued
      Atomics.store(this.running.cancel, 0, 1);
      return;
    }
    const i = this.queue.findIndex((j) => j.request.id === target);
    if (i >= 0) {
      const [job] = this.queue.splice(i, 1);
      this.answerCancelled(job, 'cancelled');
      this.report();
    }
  }

  /** A message from the worker: events pass through; a result or error ends the running job. */
  onWorkerMessage(message: Response): void {
    const ends = message.type !== 'event' && this.running !== undefined && message.id === this.running.request.id;
    if (ends && (this.running!.request.type === 'complete' || this.running!.request.type === 'explain')) this.lastRequestAt = this.now();
    if (ends && this.preempted && message.type === 'error' && message.cancelled) {
      const job = this.running!;
      this.running = undefined;
      this.preempted = false;
      // a newer warmup queued meanwhile replaces this one; otherwise it resumes when idle
      if (this.queue.some((j) => j.request.type === 'warmup')) this.io.reply(message);
      else this.queue.push({ request: job.request, cancel: newCancelFlag() });
      this.pump();
      this.report();
      return;
    }
    this.io.reply(message);
    if (ends) {
      this.running = undefined;
      this.preempted = false;
      this.pump();
      this.report();
    }
  }

  /** Answer every running and queued job with an error (worker crash, shutdown). */
  failAll(message: string, cancelled = false): void {
    const jobs = [...(this.running ? [this.running] : []), ...this.queue.splice(0)];
    this.running = undefined;
    this.preempted = false;
    for (const job of jobs) {
      Atomics.store(job.cancel, 0, 1);
      this.io.reply({ id: job.request.id, type: 'error', message, ...(cancelled ? { cancelled: true } : {}) });
    }
    this.report();
  }

  private report(): void {
    if (!this.io.queueChanged) return;
    const stats = this.stats;
    const key = `${stats.running}/${stats.queued}/${stats.perDocument}`;
    if (key === this.lastStats) return;
    this.lastStats = key;
    this.io.queueChanged(stats);
  }

  /** A request arrived: a queued prefetch is dropped, a running one stops at its next step. */
  private stopSpeculative(by: number): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const job = this.queue[i];
      if (!isSpeculative(job.request)) continue;
      this.queue.splice(i, 1);
      this.answerCancelled(job, `prefetch stopped by request ${by}`);
    }
    if (this.running && isSpeculative(this.running.request)) Atomics.store(this.running.cancel, 0, 1);
  }

  private answerCancelled(job: WorkerJob, why: string): void {
    Atomics.store(job.cancel, 0, 1);
    this.io.reply({ id: job.request.id, type: 'error', message: why, cancelled: true });
  }

  private now(): number {
    return this.io.now ? this.io.now() : performance.now();
  }

  /** Starts the first queued job that is neither a warmup nor a prefetch; else a prefetch; a warmup
   *  only when nothing else waits and requests have paused for WARMUP_IDLE_MS (else a timer tries
   *  again then). */
  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    let i = this.queue.findIndex((j) => !isBackground(j.request));
    if (i < 0) i = this.queue.findIndex((j) => isSpeculative(j.request));
    if (i < 0) {
      const wait = this.lastRequestAt + WARMUP_IDLE_MS - this.now();
      if (wait > 0) {
        if (!this.timerSet) {
          this.timerSet = true;
          const retry = () => {
            this.timerSet = false;
            this.pump();
            this.report();
          };
          if (this.io.later) this.io.later(retry, wait);
          else setTimeout(retry, wait).unref();
        }
        return;
      }
    }
    const [next] = this.queue.splice(i >= 0 ? i : 0, 1);
    this.running = next;
    this.io.startJob(next);
  }
}
