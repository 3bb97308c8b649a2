// The status bar item's menu: toggle the context highlight, switch the selection policy (written
// to tokenbutler.policy), restart the engine, open the output.
import * as vscode from 'vscode';
import { SECTION } from './settings';
import type { Policy } from '../shared/protocol';

const POLICY_DESCRIPTIONS: Record<Policy, string> = {
  tokenbutler: 'learned predictor picks the tokens each head reads',
  dense: 'every head reads the whole context (exact, slowest)',
  window: 'sinks + recent window only (baseline)',
};

interface MenuItem extends vscode.QuickPickItem {
  run(): Thenable<unknown> | void;
}

export interface StatusMenuDeps {
  highlightEnabled(): boolean;
  currentPolicy(): Policy;
}

export async function showStatusMenu(deps: StatusMenuDeps): Promise<void> {
  const items: MenuItem[] = [
    {
      label: `$(eye) ${deps.highlightEnabled() ? 'Hide' : 'Show'} Context Highlight`,
      description: 'the context tokens the model read for the last completion',
      run: () => vscode.commands.executeCommand('tokenbutler.toggleContextHighlight'),
    },
    {
      label: '$(settings) Switch Policy…',
      description: `now: ${deps.currentPolicy()}`,
      run: () => pickPolicy(deps.currentPolicy()),
    },
    { label: '$(debug-restart) Restart Engine', run: () => vscode.commands.executeCommand('tokenbutler.restartEngine') },
    { label: '$(output) Show Output', run: () => vscode.commands.executeCommand('tokenbutler.showOutput') },
  ];
  const choice = await vscode.window.showQuickPick(items, { title: 'TokenButler', placeHolder: 'Choose an action' });
  await choice?.run();
}

async function pickPolicy(current: Policy): Promise<void> {
  const items = (Object.keys(POLICY_DESCRIPTIONS) as Policy[]).map((policy) => ({
    label: policy === current ? `$(check) ${policy}` : policy,
    description: POLICY_DESCRIPTIONS[policy],
    policy,
  }));
  const choice = await vscode.window.showQuickPick(items, { title: 'TokenButler: Selection Policy', placeHolder: `Current: ${current}` });
  if (choice && choice.policy !== current) await writePolicy(choice.policy);
}

/** Writes where the effective value comes from: the workspace if it sets one, else user settings. */
export async function writePolicy(policy: Policy): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const where = config.inspect<Policy>('policy');
  const target = where?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update('policy', policy, target);
}
