// What the status bar shows of the engine's state: a background prefill only once it has run a while.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PREFILL_SHOW_DELAY_MS, ShownState, type EngineClientState } from '../../../src/engine-client';

class FakeEngine {
  state: EngineClientState = { kind: 'ready' };
  private readonly listeners = new Set<(s: EngineClientState) => void>();
  onDidChangeState(l: (s: EngineClientState) => void) {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }
  set(s: EngineClientState): void {
    this.state = s;
    for (const l of this.listeners) l(s);
  }
}

describe('ShownState', () => {
  let engine: FakeEngine;
  let shown: ShownState;
  let seen: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    engine = new FakeEngine();
    shown = new ShownState(engine);
    seen = [];
    shown.onDidChangeState((s) => seen.push(s.kind === 'prefilling' ? `prefilling ${s.done}/${s.total}` : s.kind));
  });
  afterEach(() => {
    shown.dispose();
    vi.useRealTimers();
  });

  it('a prefill that ends within the delay is never shown', () => {
    engine.set({ kind: 'prefilling', done: 0, total: 0 });
    vi.advanceTimersByTime(PREFILL_SHOW_DELAY_MS - 1);
    expect(shown.state.kind).toBe('ready');
    engine.set({ kind: 'ready' });
    vi.advanceTimersByTime(PREFILL_SHOW_DELAY_MS * 2);
    expect(seen).toEqual(['ready']);
  });

  it('a prefill still running after the delay is shown with its progress then, and its progress after', () => {
    engine.set({ kind: 'prefilling', done: 0, total: 0 });
    engine.state = { kind: 'prefilling', done: 128, total: 4096 }; // progress while hidden: read when shown
    vi.advanceTimersByTime(PREFILL_SHOW_DELAY_MS);
    expect(seen).toEqual(['prefilling 128/4096']);
    engine.set({ kind: 'prefilling', done: 256, total: 4096 });
    engine.set({ kind: 'ready' });
    expect(seen).toEqual(['prefilling 128/4096', 'prefilling 256/4096', 'ready']);
  });

  it('every other state shows at once, and cancels a prefill not shown yet', () => {
    engine.set({ kind: 'prefilling', done: 0, total: 0 });
    engine.set({ kind: 'error', detail: 'worker crashed' });
    expect(shown.state.kind).toBe('error');
    engine.set({ kind: 'restarting', reason: 'crash', delayMs: 500, crashes: 1 });
    vi.advanceTimersByTime(PREFILL_SHOW_DELAY_MS * 2);
    expect(seen).toEqual(['error', 'restarting']);
  });
});
