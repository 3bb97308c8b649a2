// Extension entry point: wires the parts together. Each part gets only what it needs.
import * as vscode from 'vscode';
import { registerFeatureCommands } from './commands';
import { AcceptTracker } from './completion/accept';
import { CompletionProvider } from './completion/provider';
import { ContextSources } from './context-sources';
import { EngineClient, type EngineClientState } from './engine-client';
import { ExplainPanel } from './explain-panel';
import { ContextHighlights } from './highlights';
import { engineConfig, onDidChangeSettings, readSettings, sameEngineConfig } from './settings';
import { createStatusBar } from './status-bar';

/** What activate() returns: used by the integration tests (and available to other extensions). */
export interface TokenButlerApi {
  readonly engine: EngineClient;
  readonly completions: CompletionProvider;
  readonly accept: AcceptTracker;
  readonly highlights: ContextHighlights;
  readonly explain: ExplainPanel;
}

/** Documents that get inline completions; only `file:` ones get repository context (context-sources.ts). */
const COMPLETION_SELECTOR: vscode.DocumentFilter[] = [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'vscode-notebook-cell' }];

let stopEngine: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): TokenButlerApi {
  const output = vscode.window.createOutputChannel('TokenButler', { log: true });
  context.subscriptions.push(output);
  output.info(`TokenButler ${context.extension.packageJSON.version} activating (VS Code ${vscode.version}, node ${process.version})`);

  const engine = new EngineClient({
    childPath: context.asAbsolutePath('dist/engine-child.js'),
    logger: output,
  });
  context.subscriptions.push(engine);
  stopEngine = () => engine.shutdown();

  context.subscriptions.push(reportFailures(engine, output));

  let settings = readSettings();
  let config = engineConfig(settings, context.extensionPath);
  const pushConfig = () => engine.configure(config).catch((e: Error) => output.warn(`configure: ${e.message}`));
  void pushConfig();
  if (settings.enable) engine.start();

  const sources = new ContextSources();
  const assemble = (doc: vscode.TextDocument, start: number, end: number) => sources.assemble(doc, start, end, settings.maxContextTokens);
  const highlights = new ContextHighlights(context.globalState);
  const accept = new AcceptTracker({ assemble, warmup: (payload) => engine.warmup(payload), logger: output });
  const completions = new CompletionProvider({
    settings: () => settings,
    assemble,
    complete: (payload, key, extra, token) => engine.complete(payload, key, extra, { token }),
    accept,
    logger: output,
  });
  const explain = new ExplainPanel({ engine, assemble, highlights, settings: () => settings, extensionUri: context.extensionUri, logger: output });
  context.subscriptions.push(
    sources,
    highlights,
    accept,
    completions,
    explain,
    vscode.languages.registerInlineCompletionItemProvider(COMPLETION_SELECTOR, completions),
    completions.onDidComplete((e) => highlights.showCompletion(e.context, e.result.chosen)),
    createStatusBar(engine, completions),
  );

  context.subscriptions.push(
    onDidChangeSettings((next) => {
      const nextConfig = engineConfig(next, context.extensionPath);
      const configChanged = !sameEngineConfig(config, nextConfig);
      settings = next;
      config = nextConfig;
      if (!settings.enable) {
        void engine.shutdown();
        return;
      }
      if (configChanged) void pushConfig();
      engine.start(); // no-op if running; the stored config is sent on start
    }),
  );

  context.subscriptions.push(
    vscode.commands.registerCommand('tokenbutler.restartEngine', async () => {
      if (!settings.enable) {
        void vscode.window.showInformationMessage('TokenButler is disabled (tokenbutler.enable).');
        return;
      }
      await engine.restart();
    }),
    vscode.commands.registerCommand('tokenbutler.showOutput', () => output.show(true)),
    ...registerFeatureCommands({ highlights, explain, policy: () => settings.policy }),
  );

  return { engine, completions, accept, highlights, explain };
}

export function deactivate(): Promise<void> | undefined {
  return stopEngine?.();
}

/** Tells the user once when the engine gives up restarting, with the reason and a way out. */
function reportFailures(
  engine: { onDidChangeState(l: (s: EngineClientState) => void): vscode.Disposable; restart(): Promise<void> },
  output: vscode.LogOutputChannel,
): vscode.Disposable {
  return engine.onDidChangeState(async (state) => {
    if (state.kind !== 'failed') return;
    const choice = await vscode.window.showErrorMessage(`TokenButler engine stopped: ${state.reason}`, 'Restart Engine', 'Show Output');
    if (choice === 'Restart Engine') await engine.restart();
    else if (choice === 'Show Output') output.show(true);
  });
}
