// When a file is opened or focused, its context is assembled and sent as a `warmup`, so the engine
// reads the repository context in the background before the first keystroke. The engine runs
// warmups at the lowest priority (scheduler.ts: a completion stops a running one, which resumes
// after it), and a completion that finds the context not cached yet answers from a window of the
// current file (EngineConfig.partialContext); a partial answer asks for the warmup again
// in case none is pending (the engine restarted, or the warmup was replaced). A cursor that comes
// to rest somewhere else without an edit (a click, Go to Line, a search result, arrow keys) is warmed
// the same way: the engine lays out the text after the cursor before the text up to it, so a moved
// cursor changes the window (and the current file's part of the context) that the next completion
// reads, and the warmup prefills it while the user reads, before the first keystroke there.
import * as vscode from 'vscode';
import { CancelledError } from '../engine-client';
import type { AssembledContext } from './context-sources';
import { COMPLETION_SCHEMES } from './completion/provider';
import { isLanguageEnabled, type Settings } from './settings';
import type { CompleteResult } from '../shared/protocol';
import { FOCUS_WARMUP_DEBOUNCE_MS } from '../completion-logic/debounce';

export { FOCUS_WARMUP_DEBOUNCE_MS };

export interface FocusWarmupDeps {
  settings(): Settings;
  assemble(document: vscode.TextDocument, start: number, end: number): Promise<AssembledContext>;
  warmup(payload: AssembledContext['payload']): Promise<void>;
  completions: { onDidComplete(listener: (e: { result: CompleteResult }) => void): vscode.Disposable };
  logger: { warn(message: string): void; debug?(message: string): void };
}

export class FocusWarmup implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscriptions: vscode.Disposable[];
  /** Warmups sent (tests read it). */
  sent = 0;

  constructor(private readonly deps: FocusWarmupDeps) {
    this.subscriptions = [
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.schedule()),
      vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e)),
      deps.completions.onDidComplete(({ result }) => result.contextPartial && this.schedule()),
    ];
    if (vscode.window.activeTextEditor) this.schedule(); // the file open at activation
  }

  /** The document and version at the last selection change: a change with a new version is the
   *  cursor moving with an edit (typing), which the completions themselves follow. */
  private lastSeen?: { doc: string; version: number };
  /** Where the last warmup was sent (document and offset). */
  private warmed?: { doc: string; offset: number };

  /** Where the last warmup was sent (tests read it). */
  get warmedAt(): { doc: string; offset: number } | undefined {
    return this.warmed;
  }

  private onSelection(e: vscode.TextEditorSelectionChangeEvent): void {
    const editor = e.textEditor;
    if (editor !== vscode.window.activeTextEditor) return;
    const doc = editor.document.uri.toString();
    const version = editor.document.version;
    const edited = this.lastSeen?.doc === doc && this.lastSeen.version !== version;
    this.lastSeen = { doc, version };
    if (edited) return;
    const offset = editor.document.offsetAt(e.selections[0]?.active ?? editor.selection.active);
    if (this.warmed?.doc === doc && this.warmed.offset === offset) return;
    this.schedule();
  }

  /** Warm the active editor's context after the debounce (the latest focus or cursor move wins). */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, FOCUS_WARMUP_DEBOUNCE_MS);
  }

  private async send(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const settings = this.deps.settings();
    if (!editor || !settings.enable) return;
    const document = editor.document;
    if (!COMPLETION_SCHEMES.includes(document.uri.scheme) || !isLanguageEnabled(settings, document.languageId)) return;
    try {
      const offset = document.offsetAt(editor.selection.active);
      const context = await this.deps.assemble(document, offset, offset);
      if (context.currentSkipped || vscode.window.activeTextEditor?.document !== document) return; // skipped file, or focus moved on
      this.sent++;
      this.warmed = { doc: document.uri.toString(), offset };
      await this.deps.warmup(context.payload);
    } catch (e) {
      // a newer warmup replaced this one, or the engine is not running: nothing is lost
      if (!(e instanceof CancelledError)) this.deps.logger.warn(`warmup on focus: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
