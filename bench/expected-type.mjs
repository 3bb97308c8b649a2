// Offline check of one idea for issue 24 (bench/names-ranking.md, "The expected type at the cursor"):
// would the type the code expects at a next-identifier position (a call's parameter, the left side
// of `=`, a declared variable's type, an object property's type, a function's return type, or the
// contextual type of `receiver.` itself) tell the written name from the ranking's wrong first
// choice? Reads a names-bench dump (`node out/bench-names.js --half tuning ... --out F`: F.json),
// cuts each position's line at the cursor as the bench does, and asks the TypeScript checker over
// the package's files. Prints counts; changes nothing in the engine.
//   node bench/expected-type.mjs F.json [--row 'tokenbutler · monitors on']
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ts = require('typescript');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const WS = path.join(ROOT, 'training/work/heldout/ws');
const [dump] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!dump || !fs.existsSync(dump)) {
  console.error('usage: node bench/expected-type.mjs DUMP.json [--row NAME]');
  process.exit(1);
}
const rowArg = process.argv.indexOf('--row');
const ROW = rowArg > 0 ? process.argv[rowArg + 1] : 'tokenbutler · monitors on';
const samples = JSON.parse(fs.readFileSync(dump, 'utf8')).samples.filter((s) => s.kind === 'dot' || s.kind === 'arg');

/** The package's script files (what the bench's workspace holds), by its folder under WS. */
function scriptsOf(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|tsx|js|jsx|mjs|cjs|mts|cts)$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const services = new Map(); // package folder -> { service, files }
function serviceFor(pkgDir) {
  let s = services.get(pkgDir);
  if (s) return s;
  const files = new Map(scriptsOf(pkgDir).map((f) => [f, { text: fs.readFileSync(f, 'utf8'), version: 0 }]));
  const host = {
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: (f) => String(files.get(f)?.version ?? 0),
    getScriptSnapshot: (f) => {
      const e = files.get(f);
      if (e) return ts.ScriptSnapshot.fromString(e.text);
      return fs.existsSync(f) ? ts.ScriptSnapshot.fromString(fs.readFileSync(f, 'utf8')) : undefined;
    },
    getCurrentDirectory: () => pkgDir,
    getCompilationSettings: () => ({ allowJs: true, checkJs: false, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, strict: true, noEmit: true, skipLibCheck: true }),
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => files.has(f) || fs.existsSync(f),
    readFile: (f) => files.get(f)?.text ?? (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  s = { service: ts.createLanguageService(host), files };
  services.set(pkgDir, s);
  return s;
}

/** The innermost node that contains [pos, pos] (or ends exactly at pos). */
function nodeAt(sf, pos) {
  let found = sf;
  const visit = (n) => {
    if (n.pos <= pos && pos <= n.end) {
      found = n;
      ts.forEachChild(n, visit);
    }
  };
  ts.forEachChild(sf, visit);
  return found;
}

const informative = (t) => t && !(t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.TypeParameter));

/** The type expected at `pos` (the start of the identifier to write), or undefined. */
function expectedAt(checker, sf, pos, kind) {
  let n = nodeAt(sf, pos);
  if (kind === 'dot') {
    while (n && !ts.isPropertyAccessExpression(n)) n = n.parent;
    return n ? checker.getContextualType(n) : undefined;
  }
  for (; n; n = n.parent) {
    if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
      const sig = checker.getResolvedSignature(n);
      if (!sig) return undefined;
      const args = n.arguments ?? [];
      let i = args.findIndex((a) => pos <= a.end);
      if (i < 0) i = args.length;
      const params = sig.getParameters();
      if (!params.length) return undefined;
      const p = params[Math.min(i, params.length - 1)];
      let t = checker.getTypeOfSymbolAtLocation(p, n);
      if (i >= params.length - 1 && checker.isArrayType?.(t)) t = checker.getTypeArguments(t)[0];
      return t;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && pos >= n.operatorToken.end) return checker.getTypeAtLocation(n.left);
    if (ts.isVariableDeclaration(n) && n.type && n.initializer && pos >= n.type.end) return checker.getTypeFromTypeNode(n.type);
    if (ts.isPropertyAssignment(n) || ts.isReturnStatement(n) || ts.isParameter(n)) {
      const e = n.initializer ?? n.expression;
      return e ? checker.getContextualType(e) : undefined;
    }
    if (ts.isBlock(n) || ts.isSourceFile(n)) return undefined;
  }
  return undefined;
}

/** Whether `name` (a member of the receiver, or a value in scope) fits `expected`: its type, or a call's result. */
function fits(checker, sf, pos, kind, name, expected) {
  let sym;
  if (kind === 'dot') {
    let n = nodeAt(sf, pos);
    while (n && !ts.isPropertyAccessExpression(n)) n = n.parent;
    if (!n) return undefined;
    sym = checker.getTypeAtLocation(n.expression).getProperty(name);
  } else {
    sym = checker.getSymbolsInScope(nodeAt(sf, pos), ts.SymbolFlags.Value).find((s) => s.name === name);
  }
  if (!sym) return undefined;
  const t = checker.getTypeOfSymbolAtLocation(sym, sf);
  if (!informative(t)) return undefined;
  if (checker.isTypeAssignableTo(t, expected)) return true;
  return t.getCallSignatures().some((s) => checker.isTypeAssignableTo(s.getReturnType(), expected));
}

const count = {};
const bump = (k) => (count[k] = (count[k] ?? 0) + 1);
for (const s of samples) {
  const pkgDir = path.join(WS, s.file.split('/')[0]);
  const file = path.join(WS, s.file);
  const { service, files } = serviceFor(pkgDir);
  const original = fs.readFileSync(file, 'utf8');
  const lineEnd = original.indexOf('\n', s.offset);
  const text = original.slice(0, s.offset) + (lineEnd < 0 ? '' : original.slice(lineEnd));
  const e = files.get(file);
  if (!e) continue;
  e.text = text;
  e.version++;
  const program = service.getProgram();
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(file);
  const k = s.kind;
  bump(`${k} positions`);
  const row = s.rows[ROW];
  const top = row?.monitor?.events?.[0]?.top ?? [];
  const first = top[0];
  let expected;
  try {
    expected = expectedAt(checker, sf, s.offset, k);
  } catch {
    expected = undefined;
  }
  e.text = original;
  e.version++;
  if (!informative(expected)) continue;
  bump(`${k} with an expected type`);
  const tf = fits(checker, sf, s.offset, k, s.target, expected);
  if (tf === undefined) continue;
  bump(`${k} with an expected type and a typed target`);
  if (tf) bump(`${k} target fits`);
  if (!first || row.hit) continue;
  bump(`${k} missed there`);
  const ff = first === s.target ? undefined : fits(checker, sf, s.offset, k, first, expected);
  if (tf && ff === false) bump(`${k} missed: target fits, ranking's first does not`);
  if (tf && ff === true) bump(`${k} missed: both fit`);
  if (!tf && ff) bump(`${k} missed: the first fits, the target does not`);
}
console.log(JSON.stringify({ dump: path.basename(dump), row: ROW, ...count }, null, 1));
