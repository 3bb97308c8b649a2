// The editor-experience commands: Toggle Context Highlight, Explain Selection, and the status bar
// menu (not in the palette: it is what clicking the status bar item opens).
import * as vscode from 'vscode';
import { showStatusMenu } from './status-menu';
import type { Policy } from '../shared/protocol';

export interface FeatureCommandDeps {
  highlights: { readonly enabled: boolean; toggle(): Promise<void> };
  explain: { run(): Promise<unknown> };
  policy(): Policy;
}

export function registerFeatureCommands(deps: FeatureCommandDeps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('tokenbutler.toggleContextHighlight', async () => {
      await deps.highlights.toggle();
      vscode.window.setStatusBarMessage(`TokenButler: context highlight ${deps.highlights.enabled ? 'on' : 'off'}`, 3000);
      return deps.highlights.enabled;
    }),
    vscode.commands.registerCommand('tokenbutler.explainSelection', () => deps.explain.run()),
    vscode.commands.registerCommand('tokenbutler.statusMenu', () =>
      showStatusMenu({ highlightEnabled: () => deps.highlights.enabled, currentPolicy: deps.policy }),
    ),
  ];
}
