// Placeholders for the editor-experience commands (context highlights, explain panel).
// That work replaces this file; until then the commands exist and say so.
import * as vscode from 'vscode';

export function registerFeatureCommands(): vscode.Disposable[] {
  const notYet = (what: string) => () => vscode.window.showInformationMessage(`TokenButler: ${what} is not available yet.`);
  return [
    vscode.commands.registerCommand('tokenbutler.toggleContextHighlight', notYet('Toggle Context Highlight')),
    vscode.commands.registerCommand('tokenbutler.explainSelection', notYet('Explain Selection')),
  ];
}
