// The extension's side of the engine process (no vscode import: VS Code's output channel and
// cancellation token come in as the structural types of host-types.ts, so the unit tests drive it
// with a real engine child). client.ts: start, configure, restart, shut down, state;
// requests.ts: ids, timeouts, cancellation; restart-policy.ts: crash backoff; spawn.ts: fork + output;
// prefetch.ts: the speculative completion for the state after the shown suggestion.
export { EngineClient, type EngineClientOptions } from './client';
export { CancelledError, EngineError, EngineTimeoutError } from './errors';
export type { CancellationTokenLike, Disposable, Logger } from './host-types';
export { CancelSource, Prefetcher, stateAfter, withTyped, type DocumentState, type PrefetchStats } from './prefetch';
export { RecentLog } from './recent-log';
export { DEFAULT_TIMEOUTS, type JobType, type RequestOptions } from './requests';
export { DEFAULT_BACKOFF, type BackoffOptions } from './restart-policy';
export { describeState, PREFILL_SHOW_DELAY_MS, ShownState, type EngineClientState } from './state';
