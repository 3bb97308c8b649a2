// Extension entry point: wires the parts together. Each part gets only what it needs.
import * as vscode from 'vscode';
import { registerFeatureCommands } from './commands';
import { AcceptTracker } from './completion/accept';
import { COMPLETION_SCHEMES, CompletionProvider, type CompletionEvent } from './completion/provider';
import { editorNamesAt } from './completion/editor-names';
import { ContextSources } from './context-sources';
import { EngineClient, RecentLog } from '../engine-client';
import { ExplainPanel } from './explain-panel';
import { FocusWarmup } from './focus-warmup';
import { ContextHighlights } from './highlights';
import { EngineNotices } from './notices';
import { engineConfig, onDidChangeSettings, readSettings, sameEngineConfig } from './settings';
import { createStatusBar } from './status-bar';

/** What activate() returns: used by the integration tests (and available to other extensions). */
export interface TokenButlerApi {
  readonly engine: EngineClient;
  readonly completions: CompletionProvider;
  readonly accept: AcceptTracker;
  /** Warmups sent when a file is opened or focused. */
  readonly focusWarmup: FocusWarmup;
  readonly highlights: ContextHighlights;
  readonly explain: ExplainPanel;
  /** The engine's recent log lines (what the output channel shows). */
  readonly log: RecentLog;
  /** Notifications shown about engine trouble. */
  readonly notices: EngineNotices;
}

/** Documents that get inline completions; only `file:` ones get repository context (context-sources.ts). */
const COMPLETION_SELECTOR: vscode.DocumentFilter[] = COMPLETION_SCHEMES.map((scheme) => ({ scheme }));

let stopEngine: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): TokenButlerApi {
  const activatedAt = performance.now();
  const output = vscode.window.createOutputChannel('TokenButler', { log: true });
  context.subscriptions.push(output);
  output.info(`TokenButler ${context.extension.packageJSON.version} activating (VS Code ${vscode.version}, node ${process.version})`);

  const log = new RecentLog(output);
  const engine = new EngineClient({
    childPath: context.asAbsolutePath('dist/engine-child.js'),
    logger: log,
  });
  context.subscriptions.push(engine);
  stopEngine = () => engine.shutdown();

  const notices = new EngineNotices(engine, output);
  context.subscriptions.push(notices);

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
    complete: (payload, key, extra, token) => engine.complete(payload, key, { ...extra, chosen: highlights.enabled }, { token }),
    onEngineState: (listener) => engine.onDidChangeState(listener),
    typing: () => engine.typing(),
    accept,
    logger: output,
    editorNames: editorNamesAt,
  });
  // With the highlight off, a tokenbutler completion below the model's crossover runs dense and has
  // no selection to show (crossover.ts); turning the highlight on then replays it through Explain
  // (the same text after the same context, TokenButler selecting), so its drawn spans are still
  // TokenButler's choice. A newer completion wins over a replay still running.
  let latest: CompletionEvent | undefined;
  const onCompletion = (e: CompletionEvent) => {
    latest = e;
    highlights.showCompletion(e.context, e.result.chosen);
  };
  const replay = (on: boolean) => {
    const e = latest;
    if (!on || !e?.result.completion || e.result.policy !== 'dense' || settings.policy !== 'tokenbutler') return;
    engine.explain(e.context.payload, e.result.completion, { policy: 'tokenbutler', budget: e.result.budget }).then(
      (r) => latest === e && highlights.enabled && highlights.showCompletion(e.context, r.chosen),
      (err: Error) => output.warn(`highlight: ${err.message}`),
    );
  };
  const focusWarmup = new FocusWarmup({ settings: () => settings, assemble, warmup: (payload) => engine.warmup(payload), completions, logger: output });
  const explain = new ExplainPanel({ engine, assemble, highlights, settings: () => settings, extensionUri: context.extensionUri, logger: output });
  context.subscriptions.push(
    sources,
    highlights,
    accept,
    completions,
    focusWarmup,
    explain,
    vscode.languages.registerInlineCompletionItemProvider(COMPLETION_SELECTOR, completions),
    completions.onDidComplete(onCompletion),
    highlights.onDidToggle(replay),
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

  // Activation reads no workspace files, so its time does not grow with the workspace.
  log.info(`activated in ${Math.round(performance.now() - activatedAt)} ms`);
  return { engine, completions, accept, focusWarmup, highlights, explain, log, notices };
}

export function deactivate(): Promise<void> | undefined {
  return stopEngine?.();
}
