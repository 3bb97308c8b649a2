// The inline provider's prefetch (src/extension/completion/provider.ts with
// src/engine-client/prefetch.ts): a shown suggestion starts a speculative request for the state
// after it; that answer is shown, without the debounce, only when the document is exactly in that
// state; other typing discards (cancels) it, a real request follows the cancel, a failed prefetch
// falls back to a request, and an engine restart drops it. VS Code, the document and the engine
// are fakes; the debounce runs on vitest's fake timers (a 60 s debounce that is never advanced
// shows whether a path waited for it).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** The fake workspace's text change listeners and active editor (FakeDocument.insert fires them). */
const fakeVscode = vi.hoisted(() => ({ changeListeners: [] as ((e: unknown) => void)[], window: { activeTextEditor: undefined as unknown } }));

vi.mock('vscode', () => {
  class Position {
    constructor(
      readonly line: number,
      readonly character: number,
    ) {}
  }
  class Range {
    constructor(
      readonly start: Position,
      readonly end: Position,
    ) {}
  }
  class InlineCompletionItem {
    constructor(
      readonly insertText: string,
      readonly range: Range,
      readonly command: unknown,
    ) {}
  }
  class EventEmitter<T> {
    private listeners: ((e: T) => void)[] = [];
    event = (l: (e: T) => void) => {
      this.listeners.push(l);
      return { dispose: () => undefined };
    };
    fire(e: T) {
      for (const l of this.listeners) l(e);
    }
    dispose() {}
  }
  const none = () => ({ dispose: () => undefined });
  const api = {
    Position,
    Range,
    InlineCompletionItem,
    EventEmitter,
    InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
    window: fakeVscode.window,
    workspace: {
      onDidChangeTextDocument: (l: (e: unknown) => void) => {
        fakeVscode.changeListeners.push(l);
        return { dispose: () => undefined };
      },
      onDidChangeConfiguration: none,
    },
  };
  return { ...api, default: api };
});

import * as vscode from 'vscode';
import { CompletionProvider, enterAt, type ProviderDeps } from '../../../src/extension/completion/provider';
import type { Settings } from '../../../src/extension/settings';
import type { EngineClientState } from '../../../src/engine-client';
import type { CancellationTokenLike } from '../../../src/engine-client';
import type { CompleteResult, ContextPayload } from '../../../src/shared/protocol';

/** A text document whose text the test edits (typing = inserting at the cursor). */
class FakeDocument {
  version = 1;
  languageId = 'typescript';
  uri = { scheme: 'file', toString: () => 'file:///a.ts' };
  constructor(public text: string) {}
  getText(range?: vscode.Range): string {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }
  offsetAt(p: vscode.Position): number {
    const lines = this.text.split('\n');
    let o = 0;
    for (let i = 0; i < p.line; i++) o += lines[i].length + 1;
    return Math.min(this.text.length, o + p.character);
  }
  positionAt(offset: number): vscode.Position {
    const before = this.text.slice(0, Math.max(0, Math.min(offset, this.text.length))).split('\n');
    return new vscode.Position(before.length - 1, before[before.length - 1].length);
  }
  lineAt(line: number) {
    return { text: this.text.split('\n')[line] };
  }
  insert(offset: number, s: string): number {
    this.text = this.text.slice(0, offset) + s + this.text.slice(offset);
    this.version++;
    for (const l of fakeVscode.changeListeners) l({ document: this, contentChanges: [{ text: s }] });
    return offset + s.length;
  }
}

interface Call {
  payload: ContextPayload;
  speculative: boolean;
  token: CancellationTokenLike;
  resolve(completion: string): void;
  reject(e: Error): void;
}

const result = (completion: string): CompleteResult => ({ completion, chosen: [], timings: {} }) as unknown as CompleteResult;

let doc: FakeDocument;
let calls: Call[];
let stateListeners: ((s: EngineClientState) => void)[];
let provider: CompletionProvider;
let typingSignals: number;
let tokens: { isCancellationRequested: boolean; onCancellationRequested: () => { dispose(): void } }[];

function deps(): ProviderDeps {
  return {
    settings: () => ({ enable: true, enabledLanguages: { '*': true }, debounceMs: 60_000, monitors: false, policy: 'tokenbutler', budget: 512, maxNewTokens: 64 }) as unknown as Settings,
    assemble: async (document, start) => {
      const text = document.getText();
      return {
        payload: { files: [], current: { file: 'a.ts', prefix: text.slice(0, start), suffix: text.slice(start) } },
        currentSkipped: undefined,
        documentText: text,
        documentVersion: document.version,
        origin: { currentFile: 'a.ts', prefixStart: 0, prefixLength: start, gap: 0 },
      } as never;
    },
    complete: (payload, _key, extra, token) =>
      new Promise<CompleteResult>((resolve, reject) => {
        calls.push({ payload, speculative: extra.speculative === true, token, resolve: (c) => resolve(result(c)), reject });
        token.onCancellationRequested(() => reject(new Error('cancelled')));
      }),
    accept: { commandFor: () => ({ command: 'accept', title: '' }) },
    logger: { warn: () => undefined } as never,
    typing: () => typingSignals++,
    onEngineState: (l) => {
      stateListeners.push(l);
      return { dispose: () => undefined };
    },
  };
}

/** Asks the provider at `offset` (an automatic trigger, as after a keystroke). */
function provide(offset: number) {
  const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) };
  tokens.push(token);
  return provider.provideInlineCompletionItems(doc as never, doc.positionAt(offset), { triggerKind: 1 } as never, token as never);
}
const shown = (items: vscode.InlineCompletionItem[] | undefined) => (items?.[0]?.insertText as string | undefined) ?? '';
const settle = () => new Promise((r) => setImmediate(r));
const real = () => calls.filter((c) => !c.speculative);
const speculative = () => calls.filter((c) => c.speculative);

/** Shows `completion` at the end of `doc` through a real request (the debounce advanced by hand). */
async function showFirst(completion: string): Promise<number> {
  const at = doc.text.length;
  const pending = provide(at);
  await vi.advanceTimersByTimeAsync(60_000);
  real().at(-1)!.resolve(completion);
  expect(shown(await pending)).toBe(completion);
  return at;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  doc = new FakeDocument('function f() {\n  const x');
  fakeVscode.changeListeners.length = 0;
  fakeVscode.window.activeTextEditor = { document: doc, selections: [{}], selection: { isEmpty: true }, options: {} };
  calls = [];
  tokens = [];
  typingSignals = 0;
  stateListeners = [];
  provider = new CompletionProvider(deps());
});
afterEach(() => {
  provider.dispose();
  vi.useRealTimers();
});

describe('CompletionProvider: speculative prefetch', () => {
  it('a shown suggestion starts a speculative request for the state after it', async () => {
    await showFirst(' = 1;');
    expect(speculative()).toHaveLength(1);
    expect(speculative()[0].payload.current).toEqual({ file: 'a.ts', prefix: 'function f() {\n  const x = 1;', suffix: '' });
  });

  it('typing the suggestion key by key keeps it; the last key shows the prefetched answer without debounce or request', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].resolve(' // two');
    for (let i = 0; i < 4; i++) {
      at = doc.insert(at, ' = 1;'[i]);
      expect(shown(await provide(at))).toBe(' = 1;'.slice(i + 1)); // the rest, from the shown suggestion
    }
    at = doc.insert(at, ';');
    const items = await provide(at); // the 60 s debounce is never advanced: the answer came without it
    expect(shown(items)).toBe(' // two');
    expect(real()).toHaveLength(1);
    expect(provider.prefetch.stats).toMatchObject({ started: 2, hits: 1, failed: 0, discarded: 0 });
    expect(typingSignals).toBe(5); // each keystroke tells the engine (its warmup waits), asked for or not
    // and the next one is prefetched at once, for the state after the answer now shown
    expect(speculative()).toHaveLength(2);
    expect(speculative()[1].payload.current.prefix).toBe('function f() {\n  const x = 1; // two');
  });

  it('accepting the whole suggestion (one edit) is the same state: a hit', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].resolve(' // one');
    at = doc.insert(at, ' = 1;');
    expect(shown(await provide(at))).toBe(' // one');
    expect(real()).toHaveLength(1);
  });

  it('nothing more after an accepted line: the next line is prefetched for the document after Enter, and Enter takes it', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].resolve(''); // the finished line has nothing more
    at = doc.insert(at, ' = 1;'); // accepted
    expect(shown(await provide(at))).toBe('');
    expect(speculative()).toHaveLength(2);
    expect(speculative()[1].payload.current.prefix).toBe('function f() {\n  const x = 1;\n  '); // Enter keeps the indentation
    at = doc.insert(at, '\n  ');
    const pending = provide(at);
    await settle();
    speculative()[1].resolve('return x;');
    expect(shown(await pending)).toBe('return x;'); // the 60 s debounce never ran
    expect(real()).toHaveLength(1);
    expect(provider.prefetch.stats).toMatchObject({ hits: 2, failed: 0 });
  });

  it('a prefetch still running when the state is reached is awaited, not asked again', async () => {
    let at = await showFirst(' = 1;');
    at = doc.insert(at, ' = 1;');
    const pending = provide(at);
    await settle();
    expect(real()).toHaveLength(1);
    speculative()[0].resolve(' // late');
    expect(shown(await pending)).toBe(' // late');
  });

  it('typing something else cancels it; its answer is never shown and a real request is asked', async () => {
    let at = await showFirst(' = 1;');
    at = doc.insert(at, ' = 2');
    const pending = provide(at);
    expect(speculative()[0].token.isCancellationRequested).toBe(true); // cancelled before the real request is sent
    speculative()[0].resolve(' // for = 1 only');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(real()).toHaveLength(2);
    real()[1].resolve(';');
    expect(shown(await pending)).toBe(';');
    expect(provider.prefetch.stats).toMatchObject({ hits: 0, discarded: 1 });
  });

  it('a state that differs away from the cursor (same cursor offset and length) is no hit', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].resolve(' // one');
    at = doc.insert(at, ' = 1;');
    doc.text = doc.text.replace('function f', 'function g');
    const pending = provide(at);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(real()).toHaveLength(2);
    real()[1].resolve('');
    expect(shown(await pending)).not.toBe(' // one');
  });

  it('a failed prefetch (stopped by the engine) falls back to a real request', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].reject(new Error('prefetch stopped by request 9'));
    at = doc.insert(at, ' = 1;');
    const pending = provide(at);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(real()).toHaveLength(2);
    real()[1].resolve(' // asked');
    expect(shown(await pending)).toBe(' // asked');
  });

  it('an engine restart drops a finished prefetch: the state asks the engine anew', async () => {
    let at = await showFirst(' = 1;');
    speculative()[0].resolve(' // before the restart');
    await settle();
    for (const l of stateListeners) l({ kind: 'restarting', reason: 'crash', delayMs: 500, crashes: 1 });
    at = doc.insert(at, ' = 1;');
    const pending = provide(at);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(real()).toHaveLength(2);
    real()[1].resolve(' // after');
    expect(shown(await pending)).toBe(' // after');
  });

  it('an engine restart while it runs cancels it', async () => {
    await showFirst(' = 1;');
    for (const l of stateListeners) l({ kind: 'starting' });
    expect(speculative()[0].token.isCancellationRequested).toBe(true);
  });

  it('a prefetch answer whose wait is cancelled (the user typed on) is not shown', async () => {
    let at = await showFirst(' = 1;');
    at = doc.insert(at, ' = 1;');
    const pending = provide(at);
    tokens.at(-1)!.isCancellationRequested = true;
    speculative()[0].resolve(' // too late');
    expect(await pending).toBeUndefined();
  });
});

describe('enterAt: what Enter inserts at the end of a line', () => {
  it('keeps the indentation, one level more after an opening bracket or a colon, and gives up where Enter does more', () => {
    expect(enterAt('  const x = 1;', '', undefined)).toBe('\n  ');
    expect(enterAt('  if (a) {', '', { useTabs: false, size: 2 })).toBe('\n    ');
    expect(enterAt('\tdef f():', '  ', undefined)).toBe('\n\t\t');
    expect(enterAt('  foo(', '', { useTabs: true, size: 4 })).toBe('\n  \t');
    expect(enterAt('  if (a) {', '}', undefined)).toBeUndefined(); // Enter splits the brackets
    expect(enterAt('    ', '', undefined)).toBeUndefined(); // a blank line
  });
});

