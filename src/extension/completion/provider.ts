// The inline completion provider: one request, top to bottom.
//   gate (enabled, language, cursors, suggest widget) → reuse what is shown (typing as suggested,
//   LRU walk-back) → the prefetched answer when the document is exactly in its state → adaptive
//   debounce → assemble context → engine complete (cancellable) → post-process → ghost text item,
//   and an event with the result for highlights and the status bar. Each shown suggestion starts a
//   prefetch (engine-client/prefetch.ts) of the completion that follows once it is typed or accepted.
// VS Code calls this on every keystroke and cancels the previous call's token, so everything after
// an await re-checks the token, and nothing here throws (a failed request shows no suggestion).
import * as vscode from 'vscode';
import {
  AdaptiveDebouncer,
  CompletionCache,
  TypingAsSuggested,
  decideMultiline,
  triggerContextOf,
  whyNotComplete,
} from '../../completion-logic';
import { postprocess } from '../../postprocess';
import type { ChosenSpan, CompleteResult, Policy } from '../../shared/protocol';
import type { AssembledContext } from '../context-sources';
import { CancelledError, Prefetcher, stateAfter, withTyped, type CancellationTokenLike, type EngineClientState } from '../../engine-client';
import { isLanguageEnabled, type Settings } from '../settings';
import type { AcceptTracker } from './accept';

/** Documents that get completions (`file:` ones with repository context, the others from their own
 *  text only). Output channels, git: and other virtual documents never do. */
export const COMPLETION_SCHEMES: readonly string[] = ['file', 'untitled', 'vscode-notebook-cell'];

/** Text before the cursor used to recognise "the user typed what was shown" (and cache keys). */
const TAIL_CHARS = 4096;
const SUFFIX_CHARS = 1024;

export interface CompletionEvent {
  result: CompleteResult;
  context: AssembledContext;
  /** What was shown after post-processing ('' = nothing). */
  shown: string;
}

export interface ProviderDeps {
  settings(): Settings;
  assemble(document: vscode.TextDocument, start: number, end: number): Promise<AssembledContext>;
  complete(
    context: AssembledContext['payload'],
    documentKey: string,
    extra: { policy: Policy; budget: number; maxNewTokens: number; multiline: boolean; editorNames?: string[]; speculative?: boolean },
    token: CancellationTokenLike,
  ): Promise<CompleteResult>;
  /** The user typed in the active editor: tells the engine, so its background warmup waits for a pause. */
  typing?(): void;
  /** The engine's state changes: a prefetched answer does not outlive a restart or a new model. */
  onEngineState?(listener: (state: EngineClientState) => void): { dispose(): void };
  accept: Pick<AcceptTracker, 'commandFor'>;
  logger: vscode.LogOutputChannel;
  /** Names the editor's completion providers offer at the cursor, under a time cap (editor-names.ts). */
  editorNames?(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<string[] | undefined>;
}

export class CompletionProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly debouncer: AdaptiveDebouncer;
  private readonly typing = new TypingAsSuggested();
  private cache = new CompletionCache(100);
  private readonly emitter = new vscode.EventEmitter<CompletionEvent>();
  readonly onDidComplete = this.emitter.event;
  private readonly subscriptions: vscode.Disposable[];
  private lastError = { message: '', at: 0 };
  /** The completion after the shown suggestion, asked while it is shown (at most one held). */
  readonly prefetch = new Prefetcher<CompleteResult, Prefetched>();

  constructor(private readonly deps: ProviderDeps) {
    const options = {
      get fixedMs() {
        return deps.settings().debounceMs; // 0 = adaptive
      },
    };
    this.debouncer = new AdaptiveDebouncer(options);
    this.subscriptions = [
      this.emitter,
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && e.document === vscode.window.activeTextEditor?.document) {
          this.debouncer.recordKeystroke();
          // VS Code need not ask us while the user types into a shown suggestion: the engine's
          // background warmup waits for a pause either way (it would push the cached window at the
          // cursor out, and the next completion would read it again).
          deps.typing?.();
        }
      }),
      // Another model, policy or budget makes remembered suggestions stale.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tokenbutler')) this.forget();
      }),
    ];
    const engineState = deps.onEngineState?.((state) => {
      if (state.kind !== 'ready' && state.kind !== 'prefilling') this.prefetch.discard(); // restarting, loading a model, failed
    });
    if (engineState) this.subscriptions.push(engineState);
  }

  /** Drops remembered suggestions: the next request goes to the engine. */
  forget(): void {
    this.typing.clear();
    this.cache = new CompletionCache(100);
    this.prefetch.discard();
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    try {
      return await this.provide(document, position, context, token);
    } catch (e) {
      if (!(e instanceof CancelledError)) this.logError(e as Error);
      return undefined;
    }
  }

  private async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const settings = this.deps.settings();
    if (!settings.enable || !isLanguageEnabled(settings, document.languageId)) return undefined;
    if (!COMPLETION_SCHEMES.includes(document.uri.scheme)) return undefined;
    // The suggest widget is open (VS Code's default after `.` and while typing a word): VS Code
    // shows our item only if it replaces the selected entry's range and starts with its text, so
    // the completion is asked for the document with that entry accepted.
    if (context.selectedCompletionInfo) return this.provideAfterEntry(document, position, context, context.selectedCompletionInfo, token);

    const editor = vscode.window.activeTextEditor?.document === document ? vscode.window.activeTextEditor : undefined;
    const line = document.lineAt(position.line).text;
    const linePrefix = line.slice(0, position.character);
    const lineSuffix = line.slice(position.character);
    const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    const skip = whyNotComplete({
      cursorCount: editor?.selections.length ?? 1,
      selectionEmpty: editor?.selection.isEmpty ?? true,
      lineSuffix,
      manual,
    });
    if (skip) return undefined;

    const key = document.uri.toString();
    const offset = document.offsetAt(position);
    const tail = document.getText(new vscode.Range(document.positionAt(Math.max(0, offset - TAIL_CHARS)), position));
    const near = document.getText(new vscode.Range(position, document.positionAt(offset + SUFFIX_CHARS)));

    // Typed into the shown suggestion, or back at a spot we completed before: no new request.
    const reused = this.typing.lookup(key, offset, tail) ?? this.cache.find(key, tail, near);
    if (reused) {
      // typing toward the end of the shown suggestion keeps its prefetch; anything else drops it
      if (!this.prefetch.leadsTo(key, offset, reused)) this.prefetch.discard();
      this.typing.remember({ documentKey: key, offset, textBefore: tail, completion: reused });
      return [this.item(document, position, offset, reused)];
    }

    // The shown suggestion was typed or accepted: the prefetched answer, without the debounce.
    const prefetched = this.prefetch.take(key, offset, () => document.getText());
    if (prefetched) {
      const result = await prefetched.result;
      if (token.isCancellationRequested) return undefined;
      if (result) return this.show(document, position, editor, { result, ...prefetched.data, context: { ...prefetched.data.context, documentVersion: document.version } }, tail, near, linePrefix, lineSuffix);
      // the prefetch failed (stopped by another request, engine restarted): ask as usual
    } else {
      this.prefetch.discard(); // typed something else
    }

    if (!manual && !(await this.debounced(linePrefix, lineSuffix, token))) return undefined;

    // The editor's names (languages the engine has no service for) are asked while the context is assembled.
    const names = settings.monitors ? this.deps.editorNames?.(document, position, token) : undefined;
    const assembled = await this.deps.assemble(document, offset, offset);
    if (token.isCancellationRequested || assembled.currentSkipped) return undefined;
    const editorNames = await names;
    const multiline = decideMultiline(linePrefix, lineSuffix, document.languageId);
    const t0 = Date.now();
    const result = await this.deps.complete(
      assembled.payload,
      key,
      { ...requestOf(settings, multiline), ...(editorNames?.length ? { editorNames } : {}) },
      token,
    );
    this.debouncer.recordLatency(Date.now() - t0);
    if (token.isCancellationRequested) {
      this.emitter.fire({ result, context: assembled, shown: this.clean(result, assembled, multiline, document, editor) });
      return undefined;
    }
    return this.show(document, position, editor, { result, context: assembled, multiline }, tail, near, linePrefix, lineSuffix);
  }

  /** The completion after the suggest widget's selected entry, shown as one item that replaces the
   *  entry's range with the entry's text and what follows it. Nothing of it is remembered for
   *  reuse or prefetched: the document is not in that state until the entry is accepted. */
  private async provideAfterEntry(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    entry: vscode.SelectedCompletionInfo,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const { range, text: entryText } = entry;
    if (range.start.line !== position.line || range.end.line !== position.line || range.start.isAfter(position) || entryText.includes('\n')) return undefined;
    const settings = this.deps.settings();
    const editor = vscode.window.activeTextEditor?.document === document ? vscode.window.activeTextEditor : undefined;
    const line = document.lineAt(position.line).text;
    const end = range.end.isAfter(position) ? range.end : position;
    const linePrefix = line.slice(0, range.start.character) + entryText;
    const lineSuffix = line.slice(end.character);
    const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    if (whyNotComplete({ cursorCount: editor?.selections.length ?? 1, selectionEmpty: editor?.selection.isEmpty ?? true, lineSuffix, manual })) return undefined;
    if (!manual && !(await this.debounced(linePrefix, lineSuffix, token))) return undefined;
    const start = document.offsetAt(range.start);
    const assembled = await this.deps.assemble(document, start, document.offsetAt(end));
    if (token.isCancellationRequested || assembled.currentSkipped) return undefined;
    const withEntry = { ...assembled, payload: withTyped(assembled.payload, entryText) };
    const multiline = decideMultiline(linePrefix, lineSuffix, document.languageId);
    const t0 = Date.now();
    const result = await this.deps.complete(
      withEntry.payload,
      document.uri.toString(),
      requestOf(settings, multiline),
      token,
    );
    this.debouncer.recordLatency(Date.now() - t0);
    const rest = this.clean(result, withEntry, multiline, document, editor);
    this.emitter.fire({ result: { ...result, chosen: chosenWithoutEntry(result.chosen, withEntry, entryText.length) }, context: assembled, shown: rest });
    if (token.isCancellationRequested || !rest) return undefined;
    const text = entryText + rest;
    return [new vscode.InlineCompletionItem(text, new vscode.Range(range.start, end), this.deps.accept.commandFor(document, start, text))];
  }

  /** Waits out the adaptive debounce; false when the request was cancelled meanwhile (typed on). */
  private async debounced(linePrefix: string, lineSuffix: string, token: vscode.CancellationToken): Promise<boolean> {
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    const waited = await this.debouncer.wait(triggerContextOf(linePrefix, lineSuffix), abort.signal).finally(() => sub.dispose());
    return waited && !token.isCancellationRequested;
  }

  /** Post-processes an answer, reports it, remembers it, shows it and prefetches what follows it. */
  private show(
    document: vscode.TextDocument,
    position: vscode.Position,
    editor: vscode.TextEditor | undefined,
    answer: Prefetched & { result: CompleteResult },
    tail: string,
    near: string,
    linePrefix: string,
    lineSuffix: string,
  ): vscode.InlineCompletionItem[] | undefined {
    const { result, context, multiline } = answer;
    const text = this.clean(result, context, multiline, document, editor);
    this.emitter.fire({ result, context, shown: text });
    const key = document.uri.toString();
    const offset = document.offsetAt(position);
    if (!text) {
      // Nothing more on a finished line (as after accepting a suggestion that ends it): the next
      // suggestion is the next line's, asked now for the document after Enter.
      const newline = enterAt(linePrefix, lineSuffix, editor ? indentationOf(editor) : undefined);
      if (newline) this.startPrefetch(document, offset, newline, context, linePrefix, lineSuffix);
      return undefined;
    }
    this.cache.set(key, tail, near, text);
    this.typing.remember({ documentKey: key, offset, textBefore: tail, completion: text });
    this.startPrefetch(document, offset, text, context, linePrefix, lineSuffix);
    return [this.item(document, position, offset, text)];
  }

  private clean(result: CompleteResult, context: AssembledContext, multiline: boolean, document: vscode.TextDocument, editor: vscode.TextEditor | undefined): string {
    const { prefix, suffix } = context.payload.current;
    return postprocess(result.completion, { prefix, suffix, languageId: document.languageId, multiline, indentation: editor ? indentationOf(editor) : undefined });
  }

  /** Asks the engine, as a speculative request (after every other one, stopped by any), for the
   *  completion at the end of `text` shown at `offset`: the document with `text` inserted. */
  private startPrefetch(document: vscode.TextDocument, offset: number, text: string, context: AssembledContext, linePrefix: string, lineSuffix: string): void {
    const settings = this.deps.settings();
    const key = document.uri.toString();
    const next = stateAfter(key, context.documentText, offset, text, context.payload);
    const nl = text.lastIndexOf('\n');
    const multiline = decideMultiline(nl < 0 ? linePrefix + text : text.slice(nl + 1), lineSuffix, document.languageId);
    const nextContext: AssembledContext = {
      ...context,
      payload: next.payload,
      documentText: next.state.text,
      origin: { ...context.origin, prefixLength: next.payload.current.prefix.length },
    };
    const extra = { ...requestOf(settings, multiline), speculative: true };
    this.prefetch.start(next.state, { context: nextContext, multiline }, (token) => this.deps.complete(next.payload, key, extra, token));
  }

  /** The item replaces nothing: an empty range at the cursor (one line, as VS Code requires). */
  private item(document: vscode.TextDocument, position: vscode.Position, offset: number, text: string): vscode.InlineCompletionItem {
    return new vscode.InlineCompletionItem(text, new vscode.Range(position, position), this.deps.accept.commandFor(document, offset, text));
  }

  /** Engine errors are logged, at most once per 30 s for the same message (no log storm per keystroke). */
  private logError(e: Error): void {
    const now = Date.now();
    if (e.message === this.lastError.message && now - this.lastError.at < 30_000) return;
    this.lastError = { message: e.message, at: now };
    this.deps.logger.warn(`completion: ${e.message}`);
  }

  dispose(): void {
    this.prefetch.discard();
    for (const s of this.subscriptions) s.dispose();
  }
}

/** What a prefetch was asked with: the context of the state it answers for and the line mode. */
interface Prefetched {
  context: AssembledContext;
  multiline: boolean;
}

/** What pressing Enter inserts at the end of a non-blank line, as VS Code indents it for code: the
 *  line's own indentation, one level more after an opening bracket or `:`. Undefined where Enter
 *  would do more (text after the cursor) or the line is blank. A wrong guess only misses the prefetch. */
export function enterAt(linePrefix: string, lineSuffix: string, indentation: { useTabs: boolean; size: number } | undefined): string | undefined {
  if (lineSuffix.trim() !== '' || linePrefix.trim() === '') return undefined;
  const own = /^[ \t]*/.exec(linePrefix)![0];
  const unit = indentation ? (indentation.useTabs ? '\t' : ' '.repeat(indentation.size)) : own.startsWith('\t') ? '\t' : '    ';
  return `\n${own}${/[{([:]$/.test(linePrefix.trimEnd()) ? unit : ''}`;
}

/** The engine request's settings part. */
function requestOf(settings: Settings, multiline: boolean): { policy: Policy; budget: number; maxNewTokens: number; multiline: boolean } {
  return { policy: settings.policy, budget: settings.budget, maxNewTokens: settings.maxNewTokens, multiline };
}

function indentationOf(editor: vscode.TextEditor): { useTabs: boolean; size: number } | undefined {
  const { insertSpaces, tabSize } = editor.options;
  if (typeof insertSpaces !== 'boolean' || typeof tabSize !== 'number') return undefined;
  return { useTabs: !insertSpaces, size: tabSize };
}

/** The engine's chosen spans mapped back to the document: spans in the inserted entry text (not in
 *  the document) are dropped and the current file's suffix moves back by its length. */
function chosenWithoutEntry(chosen: ChosenSpan[], context: AssembledContext, inserted: number): ChosenSpan[] {
  const file = context.payload.current.file;
  const cut = context.payload.current.prefix.length - inserted;
  return chosen.flatMap((s) => {
    if (s.file !== file || s.end <= cut) return [s];
    if (s.start >= cut + inserted) return [{ ...s, start: s.start - inserted, end: s.end - inserted }];
    return s.start < cut ? [{ ...s, end: cut }] : [];
  });
}
