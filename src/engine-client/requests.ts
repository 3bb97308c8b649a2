// The requests in flight to the engine child: each gets an id and a timeout, can be cancelled
// through a CancellationToken (a `cancel` message goes to the child and the promise rejects at
// once), and is settled exactly once — by the child's answer, its timeout, its token, or the
// child's exit (`rejectAll`). Answers to requests already settled here are dropped.
import type { Request, Response } from '../shared/protocol';
import { CancelledError, EngineError, EngineTimeoutError } from './errors';
import type { CancellationTokenLike } from './host-types';

export type JobType = 'configure' | 'complete' | 'explain' | 'warmup';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request that expects an answer, before it is given an id. */
export type JobMessage = Extract<DistributiveOmit<Request, 'id'>, { type: JobType }>;
export type Answer = Exclude<Response, { type: 'event' }>;

export interface RequestOptions {
  token?: CancellationTokenLike;
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUTS: Record<JobType, number> = {
  configure: 180_000, // loading a model on a busy CPU
  complete: 30_000,
  explain: 120_000,
  warmup: 300_000, // cold prefill of a long context
};

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  tokenListener?: { dispose(): void };
}

export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `post` sends a message to the child (or drops it when none is connected). */
  constructor(
    private readonly post: (message: Request) => void,
    private readonly timeouts: Partial<Record<JobType, number>> = {},
  ) {}

  /** A fresh id for a message that gets no answer (shutdown). */
  newId(): number {
    return this.nextId++;
  }

  /** Sends a request; the promise settles with the child's result or one of the errors above. */
  send(message: JobMessage, options: RequestOptions = {}): Promise<unknown> {
    const type = message.type;
    if (options.token?.isCancellationRequested) return Promise.reject(new CancelledError());
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.timeouts[type] ?? DEFAULT_TIMEOUTS[type];
      const timer = setTimeout(() => {
        if (!this.settle(id)) return;
        this.post({ id: this.nextId++, type: 'cancel', target: id });
        reject(new EngineTimeoutError(`engine ${type} request ${id} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: Pending = { resolve, reject, timer };
      this.pending.set(id, entry);
      if (options.token) {
        entry.tokenListener = options.token.onCancellationRequested(() => {
          if (!this.settle(id)) return;
          this.post({ id: this.nextId++, type: 'cancel', target: id });
          reject(new CancelledError());
        });
      }
      this.post({ ...message, id } as Request);
    });
  }

  /** The child's answer to request `message.id`. */
  answer(message: Answer): void {
    const entry = this.settle(message.id);
    if (!entry) return; // cancelled or timed out on our side already
    if (message.type === 'result') entry.resolve(message.result);
    else if (message.cancelled) entry.reject(new CancelledError(message.message));
    else entry.reject(new EngineError(message.message));
  }

  /** Rejects every request still in flight (the child exited or is shutting down). */
  rejectAll(makeError: () => Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(makeError());
  }

  /** Removes a pending request; undefined if it was already settled. */
  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.tokenListener?.dispose();
    return entry;
  }
}
