// Chosen-context highlights: after a completion (when switched on) or an Explain (always), the
// context tokens the engine's selection read are decorated in every visible editor that holds
// them, as whole words in three importance levels, with the score, head count and what the levels
// mean in the hover. The spans come from src/chosen-context (pure); this file only draws them.
//
// Decorations are not tracked through edits (vscode#48364), so a document's highlights are
// dropped as soon as it changes, and a file is only decorated if its text still equals what was
// placed in the context. The on/off state lives in globalState (default off: painting the code
// around the cursor after every keystroke distracts; it is an inspection tool you switch on).
import * as vscode from 'vscode';
import { groupByFile, LEVEL_LEGEND, LEVEL_NAMES, toDocumentSpans, type DocSpan } from '../chosen-context';
import type { AssembledContext } from './context-sources';
import type { ChosenSpan } from '../shared/protocol';

const STATE_KEY = 'tokenbutler.contextHighlight.enabled';

/** What one result needs to be drawn: the spans and the context they point into. */
interface Shown {
  context: AssembledContext;
  spans: DocSpan[];
  origin: 'completion' | 'explain';
}

/** Per document: spans to draw, and how to tell the document still has the text they refer to. */
interface Entry {
  spans: DocSpan[];
  expectedText?: string; // related files: the text placed in the context
  expectedVersion?: number; // the current file (or a related file once verified)
  origin: Shown['origin'];
}

export interface DecoratedEditor {
  uri: string;
  ranges: number;
  buckets: [number, number, number]; // low, medium, high
}

function createTypes(): vscode.TextEditorDecorationType[] {
  return LEVEL_NAMES.map((name) =>
    vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor(`tokenbutler.contextHighlight.${name}Background`),
      overviewRulerColor: new vscode.ThemeColor(`tokenbutler.contextHighlight.${name}Ruler`),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      borderRadius: '2px',
    }),
  );
}

export class ContextHighlights implements vscode.Disposable {
  private readonly types = createTypes();
  private readonly entries = new Map<string, Entry>(); // document uri → what to draw
  private readonly decorated = new Map<string, DecoratedEditor>(); // editor key → what was drawn
  private last: Shown | undefined;
  private readonly subscriptions: vscode.Disposable[];
  private readonly changeEmitter = new vscode.EventEmitter<boolean>();
  readonly onDidToggle = this.changeEmitter.event;

  constructor(private readonly state: vscode.Memento) {
    this.subscriptions = [
      vscode.window.onDidChangeVisibleTextEditors(() => this.render()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0) return;
        const key = e.document.uri.toString();
        if (this.entries.delete(key)) this.render();
      }),
      this.changeEmitter,
    ];
    void vscode.commands.executeCommand('setContext', 'tokenbutler.contextHighlight', this.enabled);
  }

  get enabled(): boolean {
    return this.state.get<boolean>(STATE_KEY, false);
  }

  async setEnabled(on: boolean): Promise<void> {
    await this.state.update(STATE_KEY, on);
    void vscode.commands.executeCommand('setContext', 'tokenbutler.contextHighlight', on);
    this.entries.clear();
    if (on && this.last) this.place(this.last);
    this.render();
    this.changeEmitter.fire(on);
  }

  toggle(): Promise<void> {
    return this.setEnabled(!this.enabled);
  }

  /** Remembers a completion's chosen spans and draws them if highlighting is on. */
  showCompletion(context: AssembledContext, chosen: readonly ChosenSpan[]): void {
    this.show({ context, spans: toDocumentSpans(chosen, context), origin: 'completion' }, this.enabled);
  }

  /** An Explain was asked for explicitly: its spans are drawn even when highlighting is off. */
  showExplain(context: AssembledContext, chosen: readonly ChosenSpan[]): void {
    this.show({ context, spans: toDocumentSpans(chosen, context), origin: 'explain' }, true);
  }

  clear(): void {
    this.entries.clear();
    this.render();
  }

  /** What is drawn right now, per visible editor (for tests and the status tooltip). */
  snapshot(): DecoratedEditor[] {
    return [...this.decorated.values()];
  }

  private show(shown: Shown, draw: boolean): void {
    this.last = shown;
    this.entries.clear();
    if (draw) this.place(shown);
    this.render();
  }

  /** Turns a result into per-document entries (not yet checked against the documents). */
  private place({ context, spans, origin }: Shown): void {
    const placed = new Map(context.payload.files.map((f) => [f.file, f.text]));
    for (const [file, list] of groupByFile(spans)) {
      if (file === context.origin.currentFile) {
        this.entries.set(context.document.toString(), { spans: list, expectedVersion: context.documentVersion, origin });
        continue;
      }
      const text = placed.get(file);
      if (!context.folder || text === undefined) continue;
      this.entries.set(vscode.Uri.joinPath(context.folder, file).toString(), { spans: list, expectedText: text, origin });
    }
  }

  /** Draws the entries on every visible editor (clearing the others). Cheap: ≤ 80 ranges. */
  private render(): void {
    this.decorated.clear();
    for (const editor of vscode.window.visibleTextEditors) {
      const doc = editor.document;
      const key = doc.uri.toString();
      const entry = this.entries.get(key);
      if (entry && !this.stillValid(entry, doc)) this.entries.delete(key);
      const live = this.entries.get(key);
      const byBucket: vscode.DecorationOptions[][] = [[], [], []];
      for (const s of live?.spans ?? []) {
        byBucket[s.level].push({ range: new vscode.Range(doc.positionAt(s.start), doc.positionAt(s.end)), hoverMessage: hover(s, live!.origin) });
      }
      this.types.forEach((type, b) => editor.setDecorations(type, byBucket[b]));
      if (live) {
        this.decorated.set(`${key}#${editor.viewColumn ?? 0}`, {
          uri: key,
          ranges: byBucket[0].length + byBucket[1].length + byBucket[2].length,
          buckets: [byBucket[0].length, byBucket[1].length, byBucket[2].length],
        });
      }
    }
  }

  private stillValid(entry: Entry, doc: vscode.TextDocument): boolean {
    if (entry.expectedVersion !== undefined) return doc.version === entry.expectedVersion;
    if (entry.expectedText !== undefined && doc.getText() !== entry.expectedText) return false;
    entry.expectedVersion = doc.version; // verified once; later checks compare versions only
    entry.expectedText = undefined;
    return true;
  }

  dispose(): void {
    for (const t of this.types) t.dispose();
    for (const s of this.subscriptions) s.dispose();
  }
}

function hover(s: DocSpan, origin: Shown['origin']): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**TokenButler context** (${LEVEL_NAMES[s.level]} importance)\n\n`);
  md.appendMarkdown(`score ${s.score.toFixed(2)} · chosen ${s.heads ?? 0}× by (layer, KV head) selections\n\n`);
  md.appendMarkdown(origin === 'explain' ? '_Read while explaining the selection:_ ' : '_Read while generating the last completion:_ ');
  md.appendMarkdown('the highlights are the context tokens that got most of the attention of the (layer, KV head) selections; ');
  md.appendMarkdown("a score is that attention relative to the most-read context token's (1.00).\n\n");
  md.appendMarkdown(`Levels: ${LEVEL_LEGEND}.`);
  return md;
}
