// Status bar item showing the engine state, with the last completion's stats in the tooltip.
// Clicking it opens the TokenButler menu (status-menu.ts).
import * as vscode from 'vscode';
import { describeState, ShownState, type EngineClientState } from '../engine-client';
import { statsMarkdown } from '../views/stats';
import type { CompleteResult } from '../shared/protocol';

interface EngineStateSource {
  readonly state: EngineClientState;
  onDidChangeState(listener: (state: EngineClientState) => void): { dispose(): void };
}

function render(item: vscode.StatusBarItem, state: EngineClientState, last: CompleteResult | undefined): void {
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
      // the context is read in the background (warmup on focus) or before a completion; nothing waits on it
      item.text = label('loading~spin', state.total > 0 ? `reading context ${Math.floor((100 * state.done) / state.total)}%` : 'reading context…');
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
  if (last) tooltip.appendMarkdown(`\n\n${statsMarkdown(last)}`);
  tooltip.appendMarkdown('\n\nClick for actions: context highlight, policy, restart, output.');
  item.tooltip = tooltip;
}

export function createStatusBar(
  engine: EngineStateSource,
  completions: { onDidComplete(listener: (e: { result: CompleteResult }) => void): { dispose(): void } },
): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('tokenbutler.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'TokenButler';
  item.command = 'tokenbutler.statusMenu';
  let last: CompleteResult | undefined;
  // a short background prefill (a warmup after a click) does not flip the item (state.ts ShownState)
  const shown = new ShownState(engine);
  render(item, shown.state, last);
  item.show();
  const sub = shown.onDidChangeState((state) => render(item, state, last));
  const stats = completions.onDidComplete(({ result }) => {
    last = result;
    render(item, shown.state, last);
  });
  return vscode.Disposable.from(item, sub, stats, shown);
}
