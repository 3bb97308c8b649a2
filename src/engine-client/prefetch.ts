// Speculative prefetch: while a suggestion is shown, the engine is asked (a `speculative` complete:
// after every other request, stopped by any of them) for the completion that follows once the
// whole suggestion is typed or accepted. When the document then is in exactly that state, the
// prefetched answer is shown without the debounce or a new request; any other state discards it.
// One prefetch is held at a time; this module has no vscode import (the provider and the newcomer
// bench share it, and the unit tests drive it with a fake engine).
import type { ContextPayload } from '../shared/protocol';
import type { CancellationTokenLike } from './host-types';

/** A document's whole text with the cursor at `offset`: the state a prefetch answers for. */
export interface DocumentState {
  documentKey: string;
  text: string;
  offset: number;
}

/** What happened to the prefetches so far (the bench reports the hit rate from it). */
export interface PrefetchStats {
  started: number;
  /** taken in exactly their state (whether the answer then came or not) */
  hits: number;
  /** dropped before it was taken: other typing, a newer prefetch, an engine restart, a setting */
  discarded: number;
  /** taken but failed (cancelled by the engine, engine error): the caller asked anew */
  failed: number;
}

interface Slot<R, D> {
  state: DocumentState;
  data: D;
  cancel: CancelSource;
  /** the answer, or undefined when the run failed or was cancelled */
  result: Promise<R | undefined>;
  taken: boolean;
}

/** The document state and context payload after `inserted` is typed at `offset` (the cursor after it).
 *  The context's related files and the prefix window's start stay as they were, so the engine only
 *  prefills the inserted text on top of what it cached for the shown suggestion. */
export function stateAfter(
  documentKey: string,
  documentText: string,
  offset: number,
  inserted: string,
  payload: ContextPayload,
): { state: DocumentState; payload: ContextPayload } {
  return {
    state: { documentKey, text: documentText.slice(0, offset) + inserted + documentText.slice(offset), offset: offset + inserted.length },
    payload: withTyped(payload, inserted),
  };
}

/** `payload` with `text` typed at its cursor (the end of the current file's prefix). */
export function withTyped(payload: ContextPayload, text: string): ContextPayload {
  return { ...payload, current: { ...payload.current, prefix: payload.current.prefix + text } };
}

export class Prefetcher<R, D = undefined> {
  private slot: Slot<R, D> | undefined;
  readonly stats: PrefetchStats = { started: 0, hits: 0, discarded: 0, failed: 0 };

  /** The state the held prefetch answers for. */
  get target(): DocumentState | undefined {
    return this.slot?.state;
  }

  /** Starts a prefetch for `state` (replacing and cancelling the one held); `run` sends the
   *  speculative request and must honour the token. It never throws: a failure yields undefined. */
  start(state: DocumentState, data: D, run: (token: CancellationTokenLike) => Promise<R>): void {
    this.discard();
    const cancel = new CancelSource();
    let result: Promise<R | undefined>;
    try {
      result = run(cancel.token).then(
        (r) => (cancel.token.isCancellationRequested ? undefined : r),
        () => undefined,
      );
    } catch {
      result = Promise.resolve(undefined);
    }
    this.slot = { state, data, cancel, result, taken: false };
    this.stats.started++;
  }

  /** The held prefetch if the document is in exactly its state (same document, cursor and whole
   *  text; `text` is read only when the rest matches). It stays held, so a second call for the same
   *  state finds it too; its result is undefined when the run failed (then ask the engine anew). */
  take(documentKey: string, offset: number, text: () => string): { data: D; result: Promise<R | undefined> } | undefined {
    const slot = this.slot;
    if (!slot || slot.state.documentKey !== documentKey || slot.state.offset !== offset || slot.state.text !== text()) return undefined;
    const first = !slot.taken;
    slot.taken = true;
    if (first) this.stats.hits++;
    const result = slot.result.then((r) => {
      if (r === undefined && this.slot === slot) {
        this.slot = undefined;
        if (first) this.stats.failed++;
      }
      return r;
    });
    return { data: slot.data, result };
  }

  /** Whether the held prefetch is for the end of a suggestion shown at `offset` whose rest is
   *  `rest` (the user is typing toward its state; keep it). */
  leadsTo(documentKey: string, offset: number, rest: string): boolean {
    const t = this.slot?.state;
    return !!t && t.documentKey === documentKey && t.offset === offset + rest.length;
  }

  /** Drops the held prefetch and cancels its request if it still runs. */
  discard(): void {
    const slot = this.slot;
    if (!slot) return;
    this.slot = undefined;
    if (!slot.taken) this.stats.discarded++;
    slot.cancel.cancel();
  }
}

/** A minimal cancellation source whose token has the shape of vscode.CancellationToken. */
export class CancelSource {
  private readonly listeners = new Set<() => void>();
  private readonly flag = { cancelled: false };
  readonly token: CancellationTokenLike;

  constructor() {
    const { flag, listeners } = this;
    this.token = {
      get isCancellationRequested(): boolean {
        return flag.cancelled;
      },
      onCancellationRequested(listener: () => void) {
        if (flag.cancelled) {
          listener();
          return { dispose: () => undefined };
        }
        listeners.add(listener);
        return { dispose: () => listeners.delete(listener) };
      },
    };
  }

  cancel(): void {
    if (this.flag.cancelled) return;
    this.flag.cancelled = true;
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
  }
}
