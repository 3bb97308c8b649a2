// Helpers for the editor-experience integration tests (real VS Code extension host).
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { CompletionEvent } from '../../../src/extension/completion/provider';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { activateExtension, settled, sleep, waitForEngineState, workspaceFile } from '../helpers';

export async function open(rel: string, column = vscode.ViewColumn.One, preserveFocus = false): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(workspaceFile(rel));
  return vscode.window.showTextDocument(doc, { viewColumn: column, preserveFocus });
}

export function endOf(doc: vscode.TextDocument): vscode.Position {
  return doc.lineAt(doc.lineCount - 1).range.end;
}

/** Appends a half-typed line that the trained default model continues with a name main.ts
 *  imports from ./geometry (`translate`), so the completion generates tokens and reads the
 *  imported file; at the end of a finished file the model rightly ends at once. The suites'
 *  teardown reverts the document. Returns the cursor position. */
export async function typeImportedName(editor: vscode.TextEditor): Promise<vscode.Position> {
  await editor.edit((b) => b.insert(endOf(editor.document), '\nconst moved = trans'));
  const pos = endOf(editor.document);
  placeCursor(editor, pos);
  return pos;
}

/** Puts the cursor at `pos` in `editor` (a single, empty selection). */
export function placeCursor(editor: vscode.TextEditor, pos: vscode.Position): void {
  editor.selection = new vscode.Selection(pos, pos);
}

export interface Completed {
  items: vscode.InlineCompletionItem[] | undefined;
  event: CompletionEvent | undefined; // undefined: no engine request was made
  ms: number;
}

/**
 * Asks our provider directly, as VS Code does, and reports the engine result it produced (if any).
 * `fresh` (default) forgets remembered suggestions first, so asking twice at one spot asks the engine twice.
 */
export async function provide(
  api: TokenButlerApi,
  doc: vscode.TextDocument,
  pos: vscode.Position,
  triggerKind = vscode.InlineCompletionTriggerKind.Invoke,
  fresh = true,
): Promise<Completed> {
  if (fresh) api.completions.forget();
  let event: CompletionEvent | undefined;
  // Only this call's result: VS Code may run its own requests meanwhile (other spots or versions).
  const offset = doc.offsetAt(pos);
  const version = doc.version;
  const sub = api.completions.onDidComplete((e) => {
    const at = e.context.origin.prefixStart + e.context.origin.prefixLength;
    if (e.context.document.toString() === doc.uri.toString() && e.context.documentVersion === version && at === offset) event = e;
  });
  const cts = new vscode.CancellationTokenSource();
  const t0 = Date.now();
  try {
    const items = await api.completions.provideInlineCompletionItems(doc, pos, { triggerKind, selectedCompletionInfo: undefined }, cts.token);
    return { items, event, ms: Date.now() - t0 };
  } finally {
    sub.dispose();
    cts.dispose();
  }
}

/** Updates user settings for the duration of `fn`, then restores them. */
export async function withSettings(values: Record<string, unknown>, fn: () => Promise<void>): Promise<void> {
  const config = () => vscode.workspace.getConfiguration('tokenbutler');
  for (const [k, v] of Object.entries(values)) await config().update(k, v, vscode.ConfigurationTarget.Global);
  try {
    await fn();
  } finally {
    for (const k of Object.keys(values)) await config().update(k, undefined, vscode.ConfigurationTarget.Global);
  }
}

/**
 * The setup every editor suite shares: the extension active, VS Code's own inline suggestions off
 * (user settings; the tests' direct provider calls are then the only requests), the engine ready.
 * Returns a switch for the tests that go through VS Code's inline suggestions.
 */
export function editorSuite(onActivated: (api: TokenButlerApi) => void): { inlineSuggest(on: boolean): Thenable<void> } {
  let before: boolean | undefined;
  const inlineSuggest = (on: boolean) =>
    vscode.workspace.getConfiguration('editor').update('inlineSuggest.enabled', on ? before : false, vscode.ConfigurationTarget.Global);
  suiteSetup(async () => {
    const { api } = await activateExtension();
    onActivated(api);
    before = vscode.workspace.getConfiguration('editor').inspect<boolean>('inlineSuggest.enabled')?.globalValue;
    await inlineSuggest(false);
    const state = await waitForEngineState(api, settled, 180_000);
    assert.strictEqual(state.kind, 'ready', `engine: ${JSON.stringify(state)}`);
  });
  suiteTeardown(() => inlineSuggest(true));
  return { inlineSuggest };
}

export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Closes every editor without a save prompt: a dirty document left by a failed test would
 *  otherwise open a modal dialog that blocks every later suite. */
export async function closeAll(): Promise<void> {
  for (const doc of vscode.workspace.textDocuments) {
    if (!doc.isDirty) continue;
    await vscode.window.showTextDocument(doc, { preview: false });
    await vscode.commands.executeCommand(doc.isUntitled ? 'workbench.action.revertAndCloseActiveEditor' : 'workbench.action.files.revert');
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}
