// Engine trouble the user has to act on gets a notification, once per reason: the engine gave up
// restarting after repeated crashes, or the model cannot be loaded (missing or corrupt files, a
// manifest that does not match the graphs, a bad tokenbutler.modelPath). The status bar shows the
// state all along; the notification says why and offers the way out. What was shown is kept
// (`shown`) for the integration tests.
import * as vscode from 'vscode';
import type { EngineClientState } from '../engine-client';

interface EngineLike {
  onDidChangeState(listener: (state: EngineClientState) => void): { dispose(): void };
  restart(): Promise<void>;
}

export class EngineNotices implements vscode.Disposable {
  private readonly messages: string[] = [];
  private lastReason: string | undefined;
  private readonly subscription: { dispose(): void };

  constructor(
    private readonly engine: EngineLike,
    private readonly output: { show(preserveFocus?: boolean): void },
  ) {
    this.subscription = engine.onDidChangeState((state) => this.onState(state));
  }

  /** Notifications shown so far, oldest first. */
  get shown(): readonly string[] {
    return this.messages;
  }

  private onState(state: EngineClientState): void {
    if (state.kind === 'ready') this.lastReason = undefined; // a later failure is news again
    if (state.kind === 'failed') {
      void this.notify(`TokenButler engine stopped: ${state.reason}`, state.reason, ['Restart Engine', 'Show Output']);
    } else if (state.kind === 'error' && state.configure) {
      void this.notify(`TokenButler could not load the model: ${state.detail}`, state.detail, ['Open Settings', 'Show Output']);
    }
  }

  private async notify(message: string, reason: string, actions: string[]): Promise<void> {
    if (reason === this.lastReason) return; // the same reason after each restart: said once
    this.lastReason = reason;
    this.messages.push(message);
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    if (choice === 'Restart Engine') await this.engine.restart();
    else if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'tokenbutler.modelPath');
    else if (choice === 'Show Output') this.output.show(true);
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
