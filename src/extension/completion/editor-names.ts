// The editor's own completion providers as a monitor source: at a trigger point (after `.`, or an
// identifier start in an expression) in a language the engine has no language service for, the
// names VS Code's providers offer at the cursor become the engine's hard mask. Time-capped: a slow
// or failing provider means no names (plain decoding), never a delayed or missing suggestion.
import * as vscode from 'vscode';
import { triggerAt } from '../../engine/monitors/triggers';

/** Languages whose names the engine's own TypeScript service supplies. */
const ENGINE_LANGUAGES = new Set(['typescript', 'typescriptreact', 'javascript', 'javascriptreact']);
export const EDITOR_NAMES_TIMEOUT_MS = 150;
const MAX_NAMES = 2000;

/** Kinds that say a name exists (word-based `Text` entries and snippets do not). */
const SKIP = new Set([vscode.CompletionItemKind.Text, vscode.CompletionItemKind.Snippet, vscode.CompletionItemKind.File, vscode.CompletionItemKind.Folder]);

export async function editorNamesAt(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken, timeoutMs = EDITOR_NAMES_TIMEOUT_MS): Promise<string[] | undefined> {
  if (ENGINE_LANGUAGES.has(document.languageId)) return undefined;
  const before = document.getText(new vscode.Range(new vscode.Position(Math.max(0, position.line - 1), 0), position));
  if (!triggerAt(before)) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    const list = await Promise.race([
      Promise.resolve(vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', document.uri, position, undefined, MAX_NAMES)),
      timeout,
    ]);
    if (!list || token.isCancellationRequested) return undefined;
    const names = new Set<string>();
    for (const item of list.items) {
      if (item.kind !== undefined && SKIP.has(item.kind)) continue;
      const label = typeof item.label === 'string' ? item.label : item.label.label;
      const m = /^[A-Za-z_$][\w$]*/.exec(label);
      if (m) names.add(m[0]);
      if (names.size >= MAX_NAMES) break;
    }
    return names.size ? [...names] : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
