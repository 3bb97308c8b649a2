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

/** How long a background prefill runs before the status bar says so: a warmup after a click or an
 *  accepted suggestion re-reads a few hundred tokens and ends well within it, and a status bar that
 *  flips to "reading context" and back at every cursor move says nothing the user can act on. */
export const PREFILL_SHOW_DELAY_MS = 500;

interface StateSource {
  readonly state: EngineClientState;
  onDidChangeState(listener: (state: EngineClientState) => void): { dispose(): void };
}

/** The state to show: the engine's, except that a prefill shows only once it has lasted `delayMs`
 *  (until then the state before it stays shown); every other state shows at once. */
export class ShownState {
  private shown: EngineClientState;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<(state: EngineClientState) => void>();
  private readonly sub: { dispose(): void };

  constructor(private readonly source: StateSource, private readonly delayMs = PREFILL_SHOW_DELAY_MS) {
    this.shown = source.state;
    this.sub = source.onDidChangeState((s) => this.onState(s));
  }

  get state(): EngineClientState {
    return this.shown;
  }

  onDidChangeState(listener: (state: EngineClientState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private onState(s: EngineClientState): void {
    if (s.kind === 'prefilling' && this.shown.kind !== 'prefilling') {
      // shown when it is still running after the delay, with its progress at that time
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        if (this.source.state.kind === 'prefilling') this.show(this.source.state);
      }, this.delayMs);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.show(s);
  }

  private show(s: EngineClientState): void {
    this.shown = s;
    for (const l of this.listeners) l(s);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.sub.dispose();
    this.listeners.clear();
  }
}
