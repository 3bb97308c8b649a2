// FocusWarmup (src/extension/focus-warmup.ts): opening or focusing a file sends one `warmup` of its
// context after FOCUS_WARMUP_DEBOUNCE_MS (the latest focus wins), nothing for files the extension
// does not complete, again when a completion answered from a partial context, and when the cursor
// comes to rest elsewhere without an edit. VS Code and the
// engine are fakes; the debounce runs on vitest's fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Listener<T> = (e: T) => void;
interface FakeEditor {
  document: { uri: { scheme: string; toString(): string }; languageId: string; version: number; offsetAt(p: unknown): number };
  selection: { active: { offset: number } };
}

const vs = vi.hoisted(() => {
  const listeners: ((e: unknown) => void)[] = [];
  const selectionListeners: ((e: unknown) => void)[] = [];
  const on = (list: ((e: unknown) => void)[]) => (l: (e: unknown) => void) => {
    list.push(l);
    return { dispose: () => list.splice(list.indexOf(l), 1) };
  };
  return {
    listeners,
    selectionListeners,
    window: {
      activeTextEditor: undefined as unknown,
      onDidChangeActiveTextEditor: on(listeners),
      onDidChangeTextEditorSelection: on(selectionListeners),
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
  const e: FakeEditor = {
    document: { uri: { scheme, toString: () => `${scheme}:///${name}` }, languageId, version: 1, offsetAt: (p) => (p as { offset: number }).offset },
    selection: { active: { offset } },
  };
  return e;
}

/** The cursor of `e` moves to `offset`; `edit`: with an edit of the document (typing). */
function move(e: FakeEditor, offset: number, edit = false): void {
  if (edit) e.document.version++;
  e.selection = { active: { offset } };
  for (const l of [...vs.selectionListeners]) l({ textEditor: e, selections: [e.selection] });
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
  vs.selectionListeners.length = 0;
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

  it('a cursor that comes to rest elsewhere without an edit is warmed there; typing, and moves back to the warmed place, are not', async () => {
    const a = editor('a.ts', 'typescript', 'file', 10);
    vs.window.activeTextEditor = a;
    const w = new FocusWarmup(deps());
    await settle();
    expect(sent.map((s) => (s.payload as { start: number }).start)).toEqual([10]);
    // Go to Line, then arrow keys: one warmup, at the cursor where it rested
    move(a, 500);
    await vi.advanceTimersByTimeAsync(FOCUS_WARMUP_DEBOUNCE_MS / 2);
    move(a, 540);
    await settle();
    expect(sent.map((s) => (s.payload as { start: number }).start)).toEqual([10, 540]);
    // typing moves the cursor with the text: the completions follow it, no warmup
    for (const at of [541, 542, 543]) move(a, at, true);
    await settle();
    expect(sent).toHaveLength(2);
    // a click after the typing is a move again; a move to where the last warmup was is not
    move(a, 200);
    await settle();
    expect(sent).toHaveLength(3);
    move(a, 200);
    await settle();
    expect(sent).toHaveLength(3);
    // a selection change in an editor without the focus (a diff's other side, a peek) is not followed
    move(editor('b.ts'), 5);
    await settle();
    expect(sent).toHaveLength(3);
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
    expect(vs.selectionListeners).toHaveLength(0);
    expect(completed).toHaveLength(0);
  });
});
