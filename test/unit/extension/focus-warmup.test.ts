// FocusWarmup (src/extension/focus-warmup.ts): opening or focusing a file sends one `warmup` of its
// context after FOCUS_WARMUP_DEBOUNCE_MS (the latest focus wins), nothing for files the extension
// does not complete, and again when a completion answered from a partial context. VS Code and the
// engine are fakes; the debounce runs on vitest's fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Listener<T> = (e: T) => void;
interface FakeEditor {
  document: { uri: { scheme: string; toString(): string }; languageId: string; offsetAt(p: unknown): number };
  selection: { active: unknown };
}

const vs = vi.hoisted(() => {
  const listeners: ((e: unknown) => void)[] = [];
  return {
    listeners,
    window: {
      activeTextEditor: undefined as unknown,
      onDidChangeActiveTextEditor: (l: (e: unknown) => void) => {
        listeners.push(l);
        return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
      },
    },
  };
});
vi.mock('vscode', () => ({ window: vs.window, default: { window: vs.window } }));

import { CancelledError } from '../../../src/engine-client';
import { FOCUS_WARMUP_DEBOUNCE_MS, FocusWarmup, type FocusWarmupDeps } from '../../../src/extension/focus-warmup';
import type { Settings } from '../../../src/extension/settings';
import type { CompleteResult } from '../../../src/shared/protocol';

const settings = (over: Partial<Settings> = {}): Settings =>
  ({ enable: true, enabledLanguages: { '*': true, markdown: false }, monitors: true, ...over }) as Settings;

function editor(name: string, languageId = 'typescript', scheme = 'file', offset = 7): FakeEditor {
  return { document: { uri: { scheme, toString: () => `${scheme}:///${name}` }, languageId, offsetAt: () => offset }, selection: { active: {} } };
}

function focus(e: FakeEditor | undefined): void {
  vs.window.activeTextEditor = e;
  for (const l of [...vs.listeners]) l(e);
}

let completed: Listener<{ result: CompleteResult }>[];
let sent: { payload: unknown }[];
let warned: string[];
let config: Settings;
let skipped: boolean;
let warmupError: Error | undefined;
let onAssemble: (() => void) | undefined;

function deps(): FocusWarmupDeps {
  return {
    settings: () => config,
    assemble: async (document, start, end) => {
      onAssemble?.();
      return { payload: { doc: document.uri.toString(), start, end }, currentSkipped: skipped } as never;
    },
    warmup: async (payload) => {
      sent.push({ payload });
      if (warmupError) throw warmupError;
    },
    completions: {
      onDidComplete: (l) => {
        completed.push(l);
        return { dispose: () => completed.splice(completed.indexOf(l), 1) } as never;
      },
    },
    logger: { warn: (m) => warned.push(m) },
  };
}

/** Runs the debounce out and lets the async send finish. */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(FOCUS_WARMUP_DEBOUNCE_MS);
  await vi.runAllTimersAsync();
}

beforeEach(() => {
  vi.useFakeTimers();
  vs.listeners.length = 0;
  vs.window.activeTextEditor = undefined;
  completed = [];
  sent = [];
  warned = [];
  config = settings();
  skipped = false;
  warmupError = undefined;
  onAssemble = undefined;
});
afterEach(() => vi.useRealTimers());

describe('FocusWarmup', () => {
  it('warms the file open at activation once, after the debounce, at the cursor', async () => {
    vs.window.activeTextEditor = editor('a.ts', 'typescript', 'file', 42);
    const w = new FocusWarmup(deps());
    await vi.advanceTimersByTimeAsync(FOCUS_WARMUP_DEBOUNCE_MS - 1);
    expect(sent).toHaveLength(0);
    await settle();
    expect(sent).toEqual([{ payload: { doc: 'file:///a.ts', start: 42, end: 42 } }]);
    expect(w.sent).toBe(1);
    w.dispose();
  });

  it('switching through tabs sends one warmup, for the file focused last', async () => {
    const w = new FocusWarmup(deps());
    for (const name of ['a.ts', 'b.ts', 'c.ts']) {
      focus(editor(name));
      await vi.advanceTimersByTimeAsync(FOCUS_WARMUP_DEBOUNCE_MS / 2);
    }
    await settle();
    expect(sent.map((s) => (s.payload as { doc: string }).doc)).toEqual(['file:///c.ts']);
    focus(undefined); // no editor (the panel has focus): nothing to warm
    await settle();
    expect(sent).toHaveLength(1);
    w.dispose();
  });

  it('sends nothing when completions are off, the language is disabled, the scheme is not completed or the file is skipped', async () => {
    const w = new FocusWarmup(deps());
    config = settings({ enable: false });
    focus(editor('a.ts'));
    await settle();
    config = settings();
    focus(editor('notes.md', 'markdown'));
    await settle();
    focus(editor('out.log', 'typescript', 'output'));
    await settle();
    skipped = true; // e.g. a secrets file: the assembler leaves it out
    focus(editor('.env.ts'));
    await settle();
    expect(sent).toHaveLength(0);
    skipped = false;
    focus(editor('ok.ts'));
    await settle();
    expect(sent).toHaveLength(1);
    w.dispose();
  });

  it('drops the warmup when focus moved on while the context was assembled', async () => {
    const w = new FocusWarmup(deps());
    onAssemble = () => (vs.window.activeTextEditor = editor('other.ts'));
    focus(editor('a.ts'));
    await vi.advanceTimersByTimeAsync(FOCUS_WARMUP_DEBOUNCE_MS);
    expect(sent).toHaveLength(0);
    w.dispose();
  });

  it('a completion answered from a partial context asks for the warmup again; a full one does not', async () => {
    vs.window.activeTextEditor = editor('a.ts');
    const w = new FocusWarmup(deps());
    await settle();
    expect(sent).toHaveLength(1);
    const result = (partial: boolean) => ({ completion: 'x', ...(partial ? { contextPartial: { placedFiles: 0, relatedFiles: 5, fullContextTokens: 15000 } } : {}) }) as CompleteResult;
    for (const l of completed) l({ result: result(false) });
    await settle();
    expect(sent).toHaveLength(1);
    for (const l of completed) l({ result: result(true) });
    await settle();
    expect(sent).toHaveLength(2);
    w.dispose();
  });

  it('a replaced warmup (cancelled) is quiet; an engine error is logged, never thrown', async () => {
    vs.window.activeTextEditor = editor('a.ts');
    warmupError = new CancelledError();
    const w = new FocusWarmup(deps());
    await settle();
    expect(warned).toEqual([]);
    warmupError = new Error('engine is not running');
    w.schedule();
    await settle();
    expect(warned).toEqual(['warmup on focus: engine is not running']);
    w.dispose();
  });

  it('after dispose, a pending focus sends nothing and events are no longer followed', async () => {
    const w = new FocusWarmup(deps());
    focus(editor('a.ts'));
    w.dispose();
    await settle();
    focus(editor('b.ts'));
    await settle();
    expect(sent).toHaveLength(0);
    expect(vs.listeners).toHaveLength(0);
    expect(completed).toHaveLength(0);
  });
});
