// The TypeScript language service of the monitors, in its own worker thread (dist/engine-ts-worker.js)
// so that its cold start (parsing the lib declarations, ~1 s) and its queries never block the
// engine. One long-lived service over an in-memory map of the files the context assembler placed
// (plus TypeScript's lib declarations); an edit is a new text and a bumped version, so a query
// re-checks incrementally. It reads no other workspace file.
import { parentPort } from 'node:worker_threads';
import * as path from 'node:path';
import * as ts from 'typescript';
import { TS_EXTENSIONS, type TsRequest, type TsResponse } from './ts-protocol';
import { SyntaxBase, syntaxSafeLength } from './syntax-check';
import { innermostAt, positionOf } from './ts-position';

const ROOT = '/__tokenbutler_ws__/';
const files = new Map<string, { text: string; version: number; snapshot: ts.IScriptSnapshot }>();
let deadline = Infinity;
let current = ''; // the file of the last query: kept when the context files change
let warmed = false;
let updateMs: number | undefined; // the last program update after a new file set

const options: ts.CompilerOptions = {
  allowJs: true,
  checkJs: false,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  jsx: ts.JsxEmit.Preserve,
  // no DOM: it triples the cold start; names it would add are taken from the context instead
  lib: ['lib.es2022.d.ts'],
  skipLibCheck: true,
  types: [],
  noEmit: true,
  allowImportingTsExtensions: true,
};
const libDir = path.dirname(ts.getDefaultLibFilePath(options));
const libCache = new Map<string, ts.IScriptSnapshot | undefined>();

function libSnapshot(fileName: string): ts.IScriptSnapshot | undefined {
  if (!libCache.has(fileName)) {
    const text = path.dirname(fileName) === libDir ? ts.sys.readFile(fileName) : undefined;
    libCache.set(fileName, text === undefined ? undefined : ts.ScriptSnapshot.fromString(text));
  }
  return libCache.get(fileName);
}

const host: ts.LanguageServiceHost = {
  getCompilationSettings: () => options,
  getScriptFileNames: () => [...files.keys()].filter((f) => TS_EXTENSIONS.test(f)),
  getScriptVersion: (f) => String(files.get(f)?.version ?? 0),
  getScriptSnapshot: (f) => files.get(f)?.snapshot ?? libSnapshot(f),
  getCurrentDirectory: () => ROOT,
  getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
  fileExists: (f) => files.has(f) || libSnapshot(f) !== undefined,
  readFile: (f) => files.get(f)?.text ?? (path.dirname(f) === libDir ? ts.sys.readFile(f) : undefined),
  // the workspace root itself too ('/__tokenbutler_ws__', no slash): files at the root import each other
  directoryExists: (d) => d === libDir || d === ROOT.slice(0, -1) || d.startsWith(ROOT),
  getDirectories: () => [],
  getCancellationToken: () => ({ isCancellationRequested: () => performance.now() > deadline }),
};
const service = ts.createLanguageService(host, ts.createDocumentRegistry());

// A small file always in the program, queried once per file set to warm the service up.
const WARM_FILE = '__tokenbutler_warm__.ts';
const WARM_TEXT = 'class W { a = 1; b(): number { return this.a; } }\nconst w = new W();\nw.b();\nfunction f(x: number) { return x; }\nf(w.a);\n';
const WARM_POSITIONS = [WARM_TEXT.indexOf('this.') + 5, WARM_TEXT.indexOf('w.b') + 2, WARM_TEXT.indexOf('f(w') + 2];
files.set(ROOT + WARM_FILE, { text: WARM_TEXT, version: 1, snapshot: ts.ScriptSnapshot.fromString(WARM_TEXT) });

function setFile(name: string, text: string): void {
  const key = ROOT + name;
  const old = files.get(key);
  if (old && old.text === text) return;
  files.set(key, { text, version: (old?.version ?? 0) + 1, snapshot: ts.ScriptSnapshot.fromString(text) });
}

/** Entries that name something that exists (JS files without types give `warning` entries: any
 *  word of the file, which is no evidence that the member exists). */
const SKIP_KINDS = new Set<string>([ts.ScriptElementKind.warning, ts.ScriptElementKind.string]);

function names(file: string, text: string, pos: number): TsResponse & { type: 'names' } {
  const t0 = performance.now();
  current = file;
  setFile(file, text);
  const info = service.getCompletionsAtPosition(ROOT + file, pos, { includeCompletionsWithInsertText: false, includeExternalModuleExports: false, includeAutomaticOptionalChainCompletions: false });
  const kind = new Map<string, string>();
  for (const e of info?.entries ?? []) if (!SKIP_KINDS.has(e.kind) && !e.insertText && !kind.has(e.name)) kind.set(e.name, e.kind);
  const call = info?.isMemberCompletion ? {} : callAt(file, pos);
  const fits = info?.isMemberCompletion ? membersFitting(file, pos, [...kind.keys()]) : undefined;
  const position = info?.isMemberCompletion ? undefined : positionAt(file, pos);
  return { id: 0, type: 'names', result: { names: [...kind.keys()], kinds: [...kind.values()], ...call, ...(fits ? { fits } : {}), ...(position ? { position } : {}), member: info?.isMemberCompletion ?? false, newIdentifier: info?.isNewIdentifierLocation ?? false, ms: performance.now() - t0 } };
}

/** NamesResult.position at `pos` (ts-position.ts), from the program the completions just updated. */
function positionAt(file: string, pos: number): 'type' | undefined {
  try {
    const sf = service.getProgram()?.getSourceFile(ROOT + file);
    return sf ? positionOf(sf, pos) : undefined;
  } catch {
    return undefined; // past the deadline: the names go without it
  }
}

/** A type that says what fits: not any, unknown or a type parameter. */
function informative(t: ts.Type | undefined): t is ts.Type {
  return !!t && !(t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.TypeParameter));
}

/** At `receiver.` where the code expects a type (a call's parameter, a property's or a
 *  declaration's type, a return: the access's contextual type), the members whose type, or whose
 *  call's result, is assignable to it (NamesResult.fits); undefined when nothing is expected, or
 *  when all or none of the typed members fit (no evidence either way). */
function membersFitting(file: string, pos: number, members: string[]): string[] | undefined {
  try {
    const program = service.getProgram();
    const sf = program?.getSourceFile(ROOT + file);
    if (!program || !sf) return undefined;
    let node: ts.Node | undefined = innermostAt(sf, pos);
    while (node && !ts.isPropertyAccessExpression(node)) node = ts.isSourceFile(node) || ts.isBlock(node) ? undefined : node.parent;
    if (!node) return undefined;
    const checker = program.getTypeChecker();
    const expected = checker.getContextualType(node as ts.PropertyAccessExpression);
    if (!informative(expected)) return undefined;
    const receiver = checker.getTypeAtLocation((node as ts.PropertyAccessExpression).expression);
    const fit: string[] = [];
    let typed = 0;
    for (const name of members) {
      if (performance.now() > deadline) return undefined; // the names go without it, on time
      const sym = receiver.getProperty(name);
      const t = sym && checker.getTypeOfSymbolAtLocation(sym, node);
      if (!informative(t)) continue;
      typed++;
      if (checker.isTypeAssignableTo(t, expected) || t.getCallSignatures().some((sig) => checker.isTypeAssignableTo(sig.getReturnType(), expected))) fit.push(name);
    }
    return fit.length && fit.length < typed ? fit : undefined;
  } catch {
    return undefined; // past the deadline: the names go without it
  }
}

/** At a call's argument (signature help; nothing outside a call): the parameter it fills, and how
 *  many arguments the call's signatures take (NamesResult.arity). */
function callAt(file: string, pos: number): { param?: string; arity?: { min: number; max: number } } {
  let help: ts.SignatureHelpItems | undefined;
  try {
    help = service.getSignatureHelpItems(ROOT + file, pos, undefined);
  } catch {
    return {}; // past the deadline (the names are answered without it)
  }
  if (!help?.items.length) return {};
  const item = help.items[help.selectedItemIndex];
  const p = item?.parameters[Math.min(help.argumentIndex, item.parameters.length - 1)];
  let min = Infinity;
  let max = 0;
  for (const it of help.items) {
    // a variadic signature's last parameter is its rest parameter: it takes any count, none included
    const fixed = it.isVariadic ? it.parameters.slice(0, -1) : it.parameters;
    min = Math.min(min, fixed.filter((x) => !x.isOptional).length);
    max = Math.max(max, it.isVariadic ? Infinity : it.parameters.length);
  }
  return { ...(p ? { param: p.name } : {}), arity: { min, max } };
}

/** The first line of what a query threw (TypeScript's cancellation is no Error and has no message). */
function errorLine(e: unknown): string {
  const m = e instanceof Error ? e.message : e instanceof ts.OperationCanceledException ? 'past the deadline' : String(e);
  return m.split('\n')[0];
}

function syntax(req: TsRequest & { type: 'syntax' }): TsResponse {
  const t0 = performance.now();
  const r = syntaxSafeLength(new SyntaxBase(ROOT + req.file, req.prefix, req.suffix), req.completion, req.cuts, req.budgetMs);
  return { id: req.id, type: 'syntax', ...r, ms: performance.now() - t0 };
}

parentPort!.on('message', (req: TsRequest) => {
  try {
    if (req.type === 'files') {
      const t0 = performance.now();
      const keep = new Set(req.names.map((n) => ROOT + n));
      for (const k of [...files.keys()]) if (!keep.has(k) && k !== ROOT + current && k !== ROOT + WARM_FILE) files.delete(k);
      for (const f of req.files) setFile(f.name, f.text);
      if (warmed) {
        // a new file set (a file opened or focused: the engine's warmup) updates the program now, not
        // at the next query: the first completion there would otherwise pay it (up to ~0.3 s on a large
        // workspace, past the engine's wait for the names at the cursor; bench/language-service.md)
        deadline = Infinity;
        service.getProgram();
        updateMs = performance.now() - t0;
        return;
      }
      // once: build the program (lib declarations, the files), the checker (lib globals) and the
      // completion code paths (V8 compiles them on first use: the first member query costs ~100x a later one)
      warmed = true;
      deadline = Infinity;
      service.getProgram();
      for (const pos of WARM_POSITIONS) service.getCompletionsAtPosition(ROOT + WARM_FILE, pos, {});
      parentPort!.postMessage({ type: 'ready', ms: performance.now() - t0, heapMb: process.memoryUsage().heapUsed / 2 ** 20, files: files.size } satisfies TsResponse);
      return;
    }
    if (req.type === 'names') {
      deadline = performance.now() + Math.max(0, req.deadline - Date.now());
      parentPort!.postMessage({ ...names(req.file, req.text, req.pos), id: req.id });
      return;
    }
    if (req.type === 'syntax') parentPort!.postMessage(syntax(req));
    if (req.type === 'stats') {
      const program = warmed ? service.getProgram() : undefined;
      parentPort!.postMessage({ id: req.id, type: 'stats', heapMb: process.memoryUsage().heapUsed / 2 ** 20, files: files.size - 1, programFiles: program?.getSourceFiles().length ?? 0, updateMs } satisfies TsResponse);
    }
  } catch (e) {
    const id = 'id' in req ? req.id : 0;
    parentPort!.postMessage({ id, type: req.type === 'syntax' ? 'syntax' : 'names', keep: -1, tries: 0, unresolved: true, ms: 0, error: errorLine(e) } as TsResponse);
  } finally {
    deadline = Infinity;
  }
});
