// When a file is opened or focused, its context is assembled and sent as a `warmup`, so the engine
// reads the repository context in the background before the first keystroke. The engine runs
// warmups at the lowest priority (scheduler.ts: a completion stops a running one, which resumes
// after it), and a completion that finds the context not cached yet answers from the cached part
// plus the current file (EngineConfig.partialContext); a partial answer asks for the warmup again
// in case none is pending (the engine restarted, or the warmup was replaced).
import * as vscode from 'vscode';
import { CancelledError } from '../engine-client';
import type { AssembledContext } from './context-sources';
import { COMPLETION_SCHEMES } from './completion/provider';
import { isLanguageEnabled, type Settings } from './settings';
import type { CompleteResult } from '../shared/protocol';

/** Focus changes within this window send one warmup (switching through tabs sends none for the tabs passed). */
export const FOCUS_WARMUP_DEBOUNCE_MS = 400;

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
      deps.completions.onDidComplete(({ result }) => result.contextPartial && this.schedule()),
    ];
    if (vscode.window.activeTextEditor) this.schedule(); // the file open at activation
  }

  /** Warm the active editor's context after the debounce (the latest focus wins). */
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
