// Command-line interface (docs: design.md "Engine CLI"). Runs the same engine and the same context
// assembler as the extension, in-process. With --json it prints exactly one JSON object on stdout.
import { readFileSync } from 'fs';
import * as path from 'path';
import type { ChosenSpan, ContextPayload, EngineConfig, Policy } from '../shared/protocol';
import { assembleContext, lineColToOffset, offsetToLineCol } from '../context';
import { runBench } from './bench';
import { Engine, Hooks } from './engine';

const USAGE = `usage:
  tokenbutler complete --workspace DIR --file REL --line N --column N [--policy tokenbutler|dense|window] [--budget K] [--max-new-tokens N] [--json]
  tokenbutler explain  --workspace DIR --file REL --start-line N --start-column N --end-line N --end-column N [--policy P] [--budget K] [--json]
  tokenbutler bench    [--context 2048,8192,16384,32768] [--policies dense,window,tokenbutler] [--budget K] [--json]
common: --model DIR (default: bundled models/default), --max-context-tokens N, --prefill sparse|dense (default sparse),
        --interval N (decode steps per fresh selection, default 1), --verbose`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { cmd: string; opts: Map<string, string | true> } {
  const [cmd, ...rest] = argv;
  const opts = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${a}`);
    const next = rest[i + 1];
    if (next === undefined || next.startsWith('--')) opts.set(a.slice(2), true);
    else {
      opts.set(a.slice(2), next);
      i++;
    }
  }
  return { cmd: cmd ?? '', opts };
}

function str(o: Map<string, string | true>, k: string, def?: string): string {
  const v = o.get(k);
  if (typeof v === 'string') return v;
  if (def !== undefined) return def;
  throw new UsageError(`missing --${k}`);
}

function int(o: Map<string, string | true>, k: string, def?: number): number {
  const raw = o.get(k);
  if (raw === undefined && def !== undefined) return def;
  const v = Number(str(o, k));
  if (!Number.isInteger(v) || v < 0) throw new UsageError(`--${k} must be a non-negative integer`);
  return v;
}

function policyOf(o: Map<string, string | true>): Policy {
  const p = str(o, 'policy', 'tokenbutler');
  if (p !== 'tokenbutler' && p !== 'dense' && p !== 'window') throw new UsageError(`--policy must be tokenbutler, dense or window`);
  return p;
}

export function defaultModelDir(): string {
  return path.resolve(__dirname, '..', 'models', 'default');
}

const quietHooks = (verbose: boolean): Hooks => ({
  emit: (e) => {
    if (verbose && e.type === 'log') process.stderr.write(`[${e.level}] ${e.message}\n`);
  },
  cancelled: () => false,
});

async function engineFor(o: Map<string, string | true>, policy: Policy, verbose: boolean): Promise<{ engine: Engine; loadMs: number; cfg: EngineConfig }> {
  const cfg: EngineConfig = {
    modelDir: path.resolve(str(o, 'model', defaultModelDir())),
    executionProvider: 'cpu',
    policy,
    budget: int(o, 'budget', 512),
    maxContextTokens: int(o, 'max-context-tokens', 16384),
    maxNewTokens: int(o, 'max-new-tokens', 64),
    prefill: str(o, 'prefill', 'sparse') === 'dense' ? 'dense' : 'sparse',
    predictionInterval: Math.max(1, Math.min(16, int(o, 'interval', 1))),
  };
  const engine = new Engine();
  const r = await engine.configure(cfg, quietHooks(verbose));
  return { engine, loadMs: r.loadMs, cfg };
}

interface Assembled {
  payload: ContextPayload;
  files: string[];
  docText: string;
  prefixStart: number;
}

async function assemble(o: Map<string, string | true>, offset: (doc: string) => number, endOffset?: (doc: string) => number): Promise<Assembled> {
  const workspace = path.resolve(str(o, 'workspace'));
  const file = str(o, 'file').split(path.sep).join('/');
  let docText: string;
  try {
    docText = readFileSync(path.join(workspace, file), 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file} in ${workspace}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const at = offset(docText);
  const end = endOffset ? endOffset(docText) : at;
  const r = await assembleContext({
    workspaceRoot: workspace,
    currentFile: file,
    prefix: docText.slice(0, at),
    suffix: docText.slice(end),
    maxContextTokens: int(o, 'max-context-tokens', 16384),
  });
  if (r.currentSkipped) throw new UsageError(`${file} is excluded from the context (${r.currentSkipped})`);
  return { payload: r.payload, files: r.files, docText, prefixStart: r.prefixStart };
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
  const { cmd, opts } = parseArgs(argv);
  const json = opts.has('json');
  const verbose = opts.has('verbose');
  const print = (obj: object, human: string) => process.stdout.write(json ? JSON.stringify(obj) + '\n' : human + '\n');
  if (cmd === 'complete') {
    const policy = policyOf(opts);
    const line = int(opts, 'line');
    const column = int(opts, 'column');
    const a = await assemble(opts, (doc) => lineColToOffset(doc, line, column));
    const { engine, loadMs } = await engineFor(opts, policy, verbose);
    const r = await engine.complete({ context: a.payload, policy, multiline: true }, quietHooks(verbose));
    const out = {
      completion: r.completion, policy: r.policy, budget: r.budget, contextTokens: r.contextTokens, reusedTokens: r.reusedTokens,
      contextFiles: [...a.files, a.payload.current.file],
      timings: { ...r.timings, loadMs },
      chosen: toLineCol(r.chosen, a),
    };
    print(out, r.completion);
    return 0;
  }
  if (cmd === 'explain') {
    const policy = policyOf(opts);
    const s = (doc: string) => lineColToOffset(doc, int(opts, 'start-line'), int(opts, 'start-column'));
    const e = (doc: string) => lineColToOffset(doc, int(opts, 'end-line'), int(opts, 'end-column'));
    const a = await assemble(opts, s, e);
    const selection = a.docText.slice(s(a.docText), e(a.docText));
    if (!selection) throw new UsageError('the selection is empty');
    const { engine } = await engineFor(opts, policy, verbose);
    const r = await engine.explain({ context: a.payload, selection, policy }, quietHooks(verbose));
    const out = { ...r, chosen: toLineCol(r.chosen, a) };
    const human = r.tokens.map((t) => `${JSON.stringify(t.text)}\t${(-t.logprob / Math.LN2).toFixed(2)} bits${t.top1 ? '\ttop1' : ''}`).join('\n');
    print(out, `${human}\nmean surprisal ${r.meanSurprisalBits.toFixed(2)} bits/token`);
    return 0;
  }
  if (cmd === 'bench') {
    const contexts = str(opts, 'context', '2048,8192,16384,32768').split(',').map(Number);
    const policies = str(opts, 'policies', 'dense,window,tokenbutler').split(',') as Policy[];
    if (contexts.some((c) => !Number.isInteger(c) || c < 64)) throw new UsageError('--context takes integers >= 64');
    const { engine } = await engineFor(opts, 'dense', verbose);
    const r = await runBench(engine, {
      contexts, policies, budget: int(opts, 'budget', 512), steps: int(opts, 'steps', 16), warm: !opts.has('no-warm'),
      log: (m) => { if (!json || verbose) process.stderr.write(m + '\n'); },
    });
    print(r, r.table);
    return 0;
  }
  throw new UsageError(cmd ? `unknown command ${cmd}` : 'no command given');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const verbose = process.argv.includes('--verbose');
    process.stderr.write(`tokenbutler: ${(e as Error).message}\n`);
    if (e instanceof UsageError) process.stderr.write(USAGE + '\n');
    else if (verbose) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
