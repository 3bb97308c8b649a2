// Status bar item showing the engine state. Clicking it opens the "TokenButler" output.
import * as vscode from 'vscode';
import { describeState, type EngineClientState } from './engine-client';

interface EngineStateSource {
  readonly state: EngineClientState;
  onDidChangeState(listener: (state: EngineClientState) => void): { dispose(): void };
}

function render(item: vscode.StatusBarItem, state: EngineClientState): void {
  const label = (icon: string, text: string) => `$(${icon}) TokenButler: ${text}`;
  item.backgroundColor = undefined;
  switch (state.kind) {
    case 'stopped':
      item.text = label('circle-slash', 'off');
      break;
    case 'starting':
      item.text = label('loading~spin', 'starting');
      break;
    case 'loading':
      item.text = label('loading~spin', 'loading model');
      break;
    case 'prefilling':
      item.text = label('loading~spin', state.total > 0 ? `prefilling ${Math.floor((100 * state.done) / state.total)}%` : 'prefilling');
      break;
    case 'ready':
      item.text = label('check', 'ready');
      break;
    case 'restarting':
      item.text = label('sync~spin', 'restarting');
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      break;
    case 'error':
    case 'failed':
      item.text = label('error', 'error');
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      break;
  }
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown('**TokenButler** — local code completion\n\n');
  tooltip.appendText(`Engine: ${describeState(state)}`);
  if (state.kind === 'failed') tooltip.appendMarkdown('\n\nRun **TokenButler: Restart Engine** to try again.');
  tooltip.appendMarkdown('\n\nClick to show the output log.');
  item.tooltip = tooltip;
}

export function createStatusBar(engine: EngineStateSource): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('tokenbutler.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'TokenButler';
  item.command = 'tokenbutler.showOutput';
  render(item, engine.state);
  item.show();
  const sub = engine.onDidChangeState((state) => render(item, state));
  return vscode.Disposable.from(item, sub);
}
