// Command-line interface (docs: README.md "Command line"). Runs the same engine and the same context
// assembler as the extension, in-process. With --json it prints exactly one JSON object on stdout.
import * as path from 'path';
import { version } from '../../package.json';
import type { ChosenSpan, ContextPayload, EngineConfig } from '../shared/protocol';
import { assembleContext, offsetToLineCol } from '../context';
import { commandUsage, Document, OptionsOf, parseArgs, positionOffset, readDocument, selectionOffsets, UsageError, usage, usageHint } from './cli-args';
// The engine and the bench load onnxruntime; they are imported when a command runs, so --help,
// --version and argument errors answer without loading the native runtime.
import type { Engine, Hooks } from './engine';

export function defaultModelDir(): string {
  return path.resolve(__dirname, '..', 'models', 'default');
}

const quietHooks = (verbose: boolean): Hooks => ({
  emit: (e) => {
    if (verbose && e.type === 'log') process.stderr.write(`[${e.level}] ${e.message}\n`);
  },
  cancelled: () => false,
});

/** How long a one-shot command waits for the language service's cold start (about 1-3 s). */
const MONITOR_WAIT_MS = 15_000;

/** explain and bench generate nothing, but the engine's cache cap counts a completion's room. */
const DEFAULT_MAX_NEW_TOKENS = 64;

/** The options that configure the engine, as the commands' tables name them. */
type EngineOptions = Pick<OptionsOf<'complete'>, 'model' | 'policy' | 'budget' | 'max-new-tokens' | 'max-context-tokens' | 'prefill' | 'interval' | 'contextual-sparsity' | 'verbose'>;

async function engineFor(o: EngineOptions): Promise<{ engine: Engine; loadMs: number }> {
  const cfg: EngineConfig = {
    modelDir: path.resolve(o.model ?? defaultModelDir()),
    executionProvider: 'cpu',
    policy: o.policy,
    budget: o.budget,
    maxContextTokens: o['max-context-tokens'],
    maxNewTokens: o['max-new-tokens'],
    prefill: o.prefill,
    predictionInterval: o.interval,
    contextualSparsity: o['contextual-sparsity'].mode,
    contextualKeep: o['contextual-sparsity'].keep,
  };
  const { Engine } = await import('./engine');
  const engine = new Engine();
  const r = await engine.configure(cfg, quietHooks(o.verbose));
  return { engine, loadMs: r.loadMs };
}

interface Assembled {
  payload: ContextPayload;
  files: string[];
  docText: string;
  prefixStart: number;
}

/** The context for the document split at [start, end): text before as prefix, after as suffix. */
async function assemble(doc: Document, start: number, end: number, maxContextTokens: number): Promise<Assembled> {
  const r = await assembleContext({
    workspaceRoot: doc.workspace,
    currentFile: doc.file,
    prefix: doc.text.slice(0, start),
    suffix: doc.text.slice(end),
    maxContextTokens,
  });
  if (r.currentSkipped) throw new UsageError(`${doc.file} is excluded from the context (${r.currentSkipped})`);
  return { payload: r.payload, files: r.files, docText: doc.text, prefixStart: r.prefixStart };
}

function toLineCol(spans: ChosenSpan[], a: Assembled) {
  const textOf = new Map(a.payload.files.map((f) => [f.file, f.text]));
  return spans.map((s) => {
    const isCurrent = s.file === a.payload.current.file;
    const text = isCurrent ? a.docText : textOf.get(s.file) ?? '';
    const base = isCurrent ? a.prefixStart : 0;
    const st = offsetToLineCol(text, base + s.start);
    const en = offsetToLineCol(text, base + s.end);
    return { file: s.file, line: st.line, column: st.column, endLine: en.line, endColumn: en.column, score: Number(s.score.toFixed(4)), heads: s.heads };
  });
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write((parsed.command ? commandUsage(parsed.command) : usage()) + '\n');
    return 0;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const json = parsed.opts.json;
  const verbose = parsed.opts.verbose;
  const print = (obj: object, human: string) => process.stdout.write(json ? JSON.stringify(obj) + '\n' : human + '\n');
  try {
    if (parsed.command === 'complete') {
      const o = parsed.opts;
      const doc = readDocument(o.workspace, o.file);
      const at = positionOffset(doc, o.line, o.column);
      const a = await assemble(doc, at, at, o['max-context-tokens']);
      const { engine, loadMs } = await engineFor(o);
      const monitors = !o['no-monitors'];
      // one-shot: wait for the language service here (the extension loads it in the background at warmup)
      if (monitors) await engine.prepareMonitors(a.payload, MONITOR_WAIT_MS);
      const r = await engine.complete({ context: a.payload, policy: o.policy, multiline: true, monitors }, quietHooks(verbose));
      const out = {
        completion: r.completion, policy: r.policy, budget: r.budget, contextTokens: r.contextTokens, reusedTokens: r.reusedTokens,
        contextFiles: [...a.files, a.payload.current.file],
        timings: { ...r.timings, loadMs },
        chosen: toLineCol(r.chosen, a),
        ...(r.monitor ? { monitor: r.monitor } : {}),
      };
      print(out, r.completion);
      return 0;
    }
    if (parsed.command === 'explain') {
      const o = parsed.opts;
      const doc = readDocument(o.workspace, o.file);
      const sel = selectionOffsets(doc, o);
      const a = await assemble(doc, sel.start, sel.end, o['max-context-tokens']);
      const { engine } = await engineFor({ ...o, 'max-new-tokens': DEFAULT_MAX_NEW_TOKENS });
      const monitors = !o['no-monitors'];
      if (monitors) await engine.prepareMonitors(a.payload, MONITOR_WAIT_MS);
      const r = await engine.explain({ context: a.payload, selection: doc.text.slice(sel.start, sel.end), policy: o.policy, monitors }, quietHooks(verbose));
      const out = { ...r, chosen: toLineCol(r.chosen, a) };
      const human = r.tokens.map((t) => `${JSON.stringify(t.text)}\t${(-t.logprob / Math.LN2).toFixed(2)} bits${t.top1 ? '\ttop1' : ''}`).join('\n');
      print(out, `${human}\nmean surprisal ${r.meanSurprisalBits.toFixed(2)} bits/token`);
      return 0;
    }
    const o = parsed.opts;
    const { engine } = await engineFor({ ...o, policy: 'dense', 'max-new-tokens': DEFAULT_MAX_NEW_TOKENS });
    const log = (m: string) => { if (!json || verbose) process.stderr.write(m + '\n'); };
    if (o.contextual.length) {
      const { runContextualBench } = await import('./bench-contextual');
      const r = await runContextualBench(engine, { contexts: o.context, policies: o.policies, settings: o.contextual, budget: o.budget, steps: o.steps, interval: o.interval, denseBelow: o['dense-below'], log });
      print(r, r.table);
      return 0;
    }
    const { runBench } = await import('./bench');
    const r = await runBench(engine, {
      contexts: o.context, policies: o.policies, budget: o.budget, steps: o.steps, warm: !o['no-warm'], peer: o.peer, denseBelow: o['dense-below'], autoDense: o['auto-dense'],
      log,
    });
    print(r, r.table);
    return 0;
  } catch (e) {
    // Checks made after parsing (the file, the positions) belong to this command's usage too.
    if (e instanceof UsageError && !e.command) throw new UsageError(e.message, parsed.command);
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`tokenbutler: ${(e as Error).message}\n`);
    if (e instanceof UsageError) process.stderr.write(usageHint(e.command) + '\n');
    else if (process.argv.includes('--verbose')) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
