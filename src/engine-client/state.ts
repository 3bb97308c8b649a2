// The engine's state as the extension shows it (status bar, notifications, Explain panel).
export type EngineClientState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'loading'; detail?: string }
  | { kind: 'prefilling'; done: number; total: number }
  | { kind: 'ready'; detail?: string }
  | { kind: 'error'; detail: string; /** the model could not be loaded (configure failed) */ configure?: boolean }
  | { kind: 'restarting'; reason: string; delayMs: number; crashes: number }
  | { kind: 'failed'; reason: string };

export function describeState(state: EngineClientState): string {
  switch (state.kind) {
    case 'loading':
      return state.detail ? `loading (${state.detail})` : 'loading';
    case 'prefilling':
      return state.total > 0 ? `prefilling ${Math.floor((100 * state.done) / state.total)}%` : 'prefilling';
    case 'ready':
      return state.detail ? `ready, ${state.detail}` : 'ready';
    case 'error':
      return `error: ${state.detail}`;
    case 'restarting':
      return `restarting in ${state.delayMs} ms: ${state.reason}`;
    case 'failed':
      return `failed: ${state.reason}`;
    default:
      return state.kind;
  }
}
