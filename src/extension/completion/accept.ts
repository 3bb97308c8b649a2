// After a suggestion is accepted, the next completion will be asked at the end of the inserted
// text. Prefilling that context now (a `warmup`) means only the user's next keystrokes are left
// to prefill when they ask, so the next suggestion is instant. Acceptance is seen through the
// item's command, which VS Code runs on a full accept (partial accepts continue as typing).
import * as vscode from 'vscode';
import type { AssembledContext } from '../context-sources';

export const ACCEPT_COMMAND = 'tokenbutler.didAcceptCompletion';

interface Shown {
  document: vscode.Uri;
  offset: number;
  text: string;
}

export interface AcceptDeps {
  assemble(document: vscode.TextDocument, start: number, end: number): Promise<AssembledContext>;
  warmup(payload: AssembledContext['payload']): Promise<void>;
  logger: { warn(message: string): void };
}

export class AcceptTracker implements vscode.Disposable {
  private readonly shown = new Map<number, Shown>();
  private nextId = 1;
  private readonly registration: vscode.Disposable;
  /** Accepts seen (tests read it). */
  accepted = 0;

  constructor(private readonly deps: AcceptDeps) {
    this.registration = vscode.commands.registerCommand(ACCEPT_COMMAND, (id: unknown) => this.onAccepted(id));
  }

  /** The command to attach to an item showing `text` at `offset` of `document`. */
  commandFor(document: vscode.TextDocument, offset: number, text: string): vscode.Command {
    const id = this.nextId++;
    this.shown.set(id, { document: document.uri, offset, text });
    // Only the last few items can still be accepted; older ones were replaced on screen.
    for (const old of this.shown.keys()) {
      if (this.shown.size <= 8) break;
      this.shown.delete(old);
    }
    return { command: ACCEPT_COMMAND, title: 'TokenButler: suggestion accepted', arguments: [id] };
  }

  private async onAccepted(id: unknown): Promise<void> {
    const item = typeof id === 'number' ? this.shown.get(id) : undefined;
    if (!item) return;
    this.shown.clear();
    this.accepted++;
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === item.document.toString());
    if (!document) return;
    // The inserted text must be in place (VS Code may have adjusted whitespace; then skip).
    const end = item.offset + item.text.length;
    if (document.getText().slice(item.offset, end) !== item.text) return;
    try {
      const context = await this.deps.assemble(document, end, end);
      if (!context.currentSkipped) await this.deps.warmup(context.payload);
    } catch (e) {
      this.deps.logger.warn(`warmup after accept: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    this.registration.dispose();
    this.shown.clear();
  }
}
