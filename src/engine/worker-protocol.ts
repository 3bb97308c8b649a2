// Messages between the engine child's main thread (child.ts: IPC, queueing, cancellation) and the
// inference worker thread (worker.ts: the model). session.run blocks its thread, so inference lives
// in the worker and the main thread stays free to receive cancel messages.
import type { Request, Response } from '../shared/protocol';

/** Main thread → worker. `cancel` is a SharedArrayBuffer-backed flag: the worker checks
 *  `Atomics.load(cancel, 0) !== 0` between decode steps and between prefill chunks. */
export interface WorkerJob {
  request: Exclude<Request, { type: 'cancel' } | { type: 'shutdown' } | { type: 'typing' }>;
  cancel: Int32Array;
}

/** Worker → main thread: the same Response shapes as the IPC protocol (results, errors, events). */
export type WorkerMessage = Response;
