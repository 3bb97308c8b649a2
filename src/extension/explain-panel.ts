// TokenButler: Explain Selection. The context is assembled around the selection (prefix = the
// text before it, suffix = the text after it), the engine teacher-forces the selected text through
// the same sparse decode path, and a webview panel shows the result (see src/views/explain-view.ts). The
// chosen spans are also highlighted in the editors.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { toDocumentSpans } from '../chosen-context';
import type { AssembledContext } from './context-sources';
import { CancelledError, describeState, type EngineClientState } from '../engine-client';
import { locateSpans, renderExplainHtml, renderExplainPendingHtml, type ExplainViewModel, type LocatedSpan, type PageResources, type PendingViewModel } from '../views/explain-view';
import type { Settings } from './settings';
import type { ExplainResult, Policy } from '../shared/protocol';

/** Longest selection explained: one decode step per token, so keep it to a few seconds. */
export const MAX_EXPLAIN_CHARS = 4000;

export interface ExplainDeps {
  engine: {
    readonly state: EngineClientState;
    /** State changes; `prefilling` carries the context's prefill progress shown in the panel. */
    onDidChangeState?(listener: (state: EngineClientState) => void): vscode.Disposable;
    explain(
      context: AssembledContext['payload'],
      selection: string,
      extra: { policy?: Policy; budget?: number },
      options: { token?: vscode.CancellationToken },
    ): Promise<ExplainResult>;
  };
  assemble(document: vscode.TextDocument, start: number, end: number): Promise<AssembledContext>;
  highlights: { showExplain(context: AssembledContext, chosen: ExplainResult['chosen']): void };
  settings(): Settings;
  extensionUri: vscode.Uri;
  logger: vscode.LogOutputChannel;
}

/** What the command returns (used by tests): a summary of what the panel shows. */
export interface ExplainOutcome {
  tokens: number;
  spans: number;
  policy: Policy;
  budget: number;
}

export class ExplainPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private spans: LocatedSpan[] = [];
  private folder: vscode.Uri | undefined;
  private current: { file: string; uri: vscode.Uri } | undefined;
  /** The running request: cancelled by the panel's Cancel, by closing the panel, or by a newer run. */
  private pending: vscode.CancellationTokenSource | undefined;
  /** The last page rendered (tests read it; the webview itself is not reachable from the host). */
  lastHtml = '';
  /** The pages the last run rendered, in order, with the ms since the command started (tests read them). */
  pages: { kind: PendingViewModel['state'] | 'result'; html: string; ms: number }[] = [];
  private runStarted = 0;
  /** How many panels were created (a run reuses the open one). */
  panelsCreated = 0;

  constructor(private readonly deps: ExplainDeps) {}

  async run(): Promise<ExplainOutcome | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage('TokenButler: select the code to explain first, then run Explain Selection.');
      return undefined;
    }
    const notReady = notReadyReason(this.deps.engine.state);
    if (notReady) {
      // Not awaited: the command returns at once; the button works whenever it is clicked.
      void vscode.window.showWarningMessage(`TokenButler: cannot explain: ${notReady}.`, 'Show Output').then((choice) => {
        if (choice === 'Show Output') this.deps.logger.show(true);
      });
      return undefined;
    }
    const doc = editor.document;
    const start = doc.offsetAt(editor.selection.start);
    const fullEnd = doc.offsetAt(editor.selection.end);
    const end = Math.min(fullEnd, start + MAX_EXPLAIN_CHARS);
    this.pending?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.pending = cts;
    const where = { file: vscode.workspace.asRelativePath(doc.uri, false), line: doc.positionAt(start).line + 1, chars: end - start };
    this.pages = [];
    this.runStarted = performance.now();
    this.showPending({ ...where, state: 'working' });
    const current = () => this.pending === cts;
    const progress = this.deps.engine.onDidChangeState?.((state) => {
      if (state.kind === 'prefilling' && state.total > 0 && current()) {
        void this.panel?.webview.postMessage({ type: 'progress', done: state.done, total: state.total });
      }
    });
    try {
      // The panel is the progress; the status bar shows that something runs while it is hidden.
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'TokenButler: explaining' }, async () => {
        const context = await this.deps.assemble(doc, start, fullEnd);
        if (cts.token.isCancellationRequested) throw new CancelledError();
        if (context.currentSkipped) {
          this.showPending({ ...where, state: 'skipped', message: context.currentSkipped });
          void vscode.window.showWarningMessage(`TokenButler: this file is never sent to the model (${context.currentSkipped}).`);
          return undefined;
        }
        const s = this.deps.settings();
        const selection = context.documentText.slice(start, end);
        const result = await this.deps.engine.explain(context.payload, selection, { policy: s.policy, budget: s.budget }, { token: cts.token });
        if (!current() || cts.token.isCancellationRequested) return undefined;
        this.deps.highlights.showExplain(context, result.chosen);
        this.show(context, result, where.line, fullEnd > end ? { explained: end - start, total: fullEnd - start } : undefined);
        return { tokens: result.tokens.length, spans: this.spans.length, policy: result.policy, budget: result.budget };
      });
    } catch (e) {
      if (e instanceof CancelledError || cts.token.isCancellationRequested) {
        if (current() && this.panel) this.showPending({ ...where, state: 'cancelled' });
        return undefined;
      }
      const message = (e as Error).message;
      this.deps.logger.error(`explain: ${message}`);
      if (current() && this.panel) this.showPending({ ...where, state: 'failed', message });
      void vscode.window.showErrorMessage(`TokenButler: explain failed: ${message}`);
      return undefined;
    } finally {
      progress?.dispose();
      if (current()) this.pending = undefined;
      cts.dispose();
    }
  }

  /** What the pending page's Cancel button does (also the test hook). */
  cancel(): void {
    this.pending?.cancel();
  }

  private resources(panel: vscode.WebviewPanel): PageResources {
    const media = vscode.Uri.joinPath(this.deps.extensionUri, 'media');
    return {
      nonce: randomBytes(16).toString('base64'),
      cspSource: panel.webview.cspSource,
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'explain.css')).toString(),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'explain.js')).toString(),
    };
  }

  private showPending(vm: PendingViewModel): void {
    const panel = this.ensurePanel();
    this.spans = [];
    this.lastHtml = renderExplainPendingHtml(vm, this.resources(panel));
    this.pages.push({ kind: vm.state, html: this.lastHtml, ms: performance.now() - this.runStarted });
    panel.webview.html = this.lastHtml;
    panel.reveal(vscode.ViewColumn.Beside, true);
  }

  private show(context: AssembledContext, result: ExplainResult, line: number, truncated: ExplainViewModel['truncated']): void {
    const placed = new Map(context.payload.files.map((f) => [f.file, f.text]));
    const textOf = (file: string) => (file === context.origin.currentFile ? context.documentText : placed.get(file));
    this.spans = locateSpans(toDocumentSpans(result.chosen, context), textOf);
    this.folder = context.folder;
    this.current = { file: context.origin.currentFile, uri: context.document };
    const vm: ExplainViewModel = {
      result,
      file: context.origin.currentFile,
      line,
      spans: this.spans,
      contextFiles: context.payload.files.length,
      truncated,
    };
    const panel = this.ensurePanel();
    this.lastHtml = renderExplainHtml(vm, this.resources(panel));
    this.pages.push({ kind: 'result', html: this.lastHtml, ms: performance.now() - this.runStarted });
    panel.webview.html = this.lastHtml;
    panel.reveal(vscode.ViewColumn.Beside, true);
  }

  private ensurePanel(): vscode.WebviewPanel {
    if (this.panel) return this.panel;
    const panel = vscode.window.createWebviewPanel(
      'tokenbutler.explain',
      'TokenButler: Explain',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      {
        enableScripts: true,
        enableCommandUris: false,
        localResourceRoots: [vscode.Uri.joinPath(this.deps.extensionUri, 'media')],
      },
    );
    panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m));
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.lastHtml = '';
      this.pending?.cancel();
    });
    this.panel = panel;
    this.panelsCreated++;
    return panel;
  }

  /** The webview may only ask to cancel the running request, or to open one of the spans it was
   *  given, by index. */
  private async onMessage(message: unknown): Promise<void> {
    const m = message as { type?: unknown; index?: unknown };
    if (m?.type === 'cancel') {
      this.cancel();
      return;
    }
    if (m?.type !== 'openSpan' || typeof m.index !== 'number' || !Number.isInteger(m.index)) return;
    const span = this.spans[m.index];
    if (!span) return;
    const uri =
      span.file === this.current?.file ? this.current.uri : this.folder ? vscode.Uri.joinPath(this.folder, span.file) : undefined;
    if (!uri) return;
    const range = new vscode.Range(span.line - 1, span.column - 1, span.endLine - 1, span.endColumn - 1);
    try {
      const editor = await vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(range.start, range.start) });
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    } catch (e) {
      void vscode.window.showWarningMessage(`TokenButler: cannot open ${span.file}: ${(e as Error).message}`);
    }
  }

  /** Test hook: what clicking the i-th context link does. */
  openSpan(index: number): Promise<void> {
    return this.onMessage({ type: 'openSpan', index });
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

function notReadyReason(state: EngineClientState): string | undefined {
  switch (state.kind) {
    case 'ready':
    case 'prefilling':
      return undefined;
    case 'stopped':
      return 'the engine is off (tokenbutler.enable is false)';
    case 'starting':
    case 'loading':
      return 'the model is still loading; try again in a moment';
    default:
      return `the engine is not ready (${describeState(state)})`;
  }
}
