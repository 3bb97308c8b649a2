// Next-identifier match (NIM) and line completion on held-out real code, per policy, beside a
// rule that uses no model (docs: bench/names.md, which this writes with bench/names.json).
//   bash bench/names-fetch.sh                                  (once: the held-out tarballs)
//   node esbuild.mjs && nice -n 10 node out/bench-names.js     (report half -> bench/names.md)
//   nice -n 10 node out/bench-names.js --quick                 (tuning half, small -> out/bench-names-quick.md)
// The engine runs in this process, loaded once; each position runs under every row (policy ×
// monitors) back to back, so the rows share the position's prefill and differ only in decoding.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_PREDICTION_INTERVAL, type ContextPayload, type EngineConfig, type Policy } from '../../shared/protocol';
import { assembleContext, offsetToLineCol } from '../../context';
import { Engine, type Hooks } from '../../engine/engine';
import { DEFAULT_MONITOR_OPTIONS } from '../../engine/monitors/monitor';
import { TOKEN_HEALING } from '../../engine/decode/heal';
import { TS_HEAP_MB, TsService, type TsStats } from '../../engine/monitors/ts-service';
import { type CandidateRow, type LmScorer, candidates, summarizeCandidates, writeRows } from './candidates';
import { type Half, PACKAGES, packStem, pinnedVersions, prepareWorkspace } from './heldout';
import { copyGuess, editSimilarity, exactMatch, nimHit, percentile, recencyGuess, repeatedSpan } from './metrics';
import { containsIdentifier, draw, linePositions, nimPositions, type NimPosition, type LinePosition, seeded, visibleBefore } from './positions';
import { FLOOR_ROW, type RowResult, type Sample, summarize, table } from './report';
import { syntaxCheck } from './syntax';

const USAGE = `usage: node out/bench-names.js [--quick] [--half report|tuning|fit] [--policies dense,tokenbutler,window] [--monitors off,on]
  [--nim N (per kind)] [--lines N] [--seed S] [--per-file N] [--max-context-tokens N] [--budget K] [--model DIR] [--out PATH (no extension)]`;

class UsageError extends Error {}

interface Options {
  quick: boolean;
  /** tuning aid: the names each source offers per position, no LM (candidates.ts) */
  candidates: boolean;
  features: boolean;
  lmK: number;
  /** tuning aid: argument positions only (after-dot positions are not drawn) */
  noDot: boolean;
  /** tuning aid: after-dot positions only (argument positions are not drawn) */
  noArgs: boolean;
  /** tuning aid: the language service reads only the placed files (ContextPayload.serviceFiles dropped) */
  noServiceFiles: boolean;
  half: Half;
  policies: Policy[];
  monitors: boolean[];
  nim: number;
  lines: number;
  seed: number;
  perFile: number;
  maxContextTokens: number;
  budget: number;
  modelDir: string;
  out: string;
}

const ROOT = path.resolve(__dirname, '..');
const HELDOUT = path.join(ROOT, 'training', 'work', 'heldout');
const NIM_MAX_NEW = 16;
const LINE_MAX_NEW = 48;

function parseOptions(argv: string[]): Options {
  const o = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) o.set(a.slice(2), true);
    else o.set(a.slice(2), (i++, next));
  }
  const known = new Set(['candidates', 'features', 'lm-k', 'member-bias', 'ident-bias', 'ident-class-gain', 'ident-class-history', 'rank-scale', 'line-copy-bias', 'type-fit', 'rank-scorer', 'generated-ident-all', 'no-arity', 'no-position-gate', 'no-heal', 'no-dot', 'no-args', 'no-service-files', 'quick', 'half', 'policies', 'monitors', 'nim', 'lines', 'seed', 'per-file', 'max-context-tokens', 'budget', 'model', 'out']);
  for (const k of o.keys()) if (!known.has(k)) throw new UsageError(`unknown option --${k}`);
  const quick = o.has('quick');
  // tuning only (tuning half): the ranking's biases in nats (monitor.ts DEFAULT_MONITOR_OPTIONS)
  for (const [flag, key] of [['member-bias', 'memberBias'], ['ident-bias', 'identBias'], ['ident-class-gain', 'identClassGain'], ['ident-class-history', 'identClassHistory'], ['rank-scale', 'rankScale'], ['line-copy-bias', 'lineCopyBias'], ['type-fit', 'typeFit']] as const) {
    const v = o.get(flag);
    if (typeof v === 'string') DEFAULT_MONITOR_OPTIONS[key] = Number(v);
  }
  if (o.has('generated-ident-all')) DEFAULT_MONITOR_OPTIONS.generatedIdentKeyedOnly = false;
  if (o.has('no-heal')) TOKEN_HEALING.enabled = false;
  if (o.has('no-arity')) DEFAULT_MONITOR_OPTIONS.arity = false;
  if (o.has('no-position-gate')) DEFAULT_MONITOR_OPTIONS.positionGate = false;
  const scorer = o.get('rank-scorer');
  if (scorer !== undefined) {
    if (scorer !== 'trees' && scorer !== 'fitted') throw new UsageError('--rank-scorer takes trees or fitted');
    DEFAULT_MONITOR_OPTIONS.rankScorer = scorer;
  }
  const str = (k: string, def: string) => {
    const v = o.get(k);
    if (v === true) throw new UsageError(`--${k} needs a value`);
    return v ?? def;
  };
  const int = (k: string, def: number, min: number) => {
    const v = Number(str(k, String(def)));
    if (!Number.isInteger(v) || v < min) throw new UsageError(`--${k} must be an integer >= ${min}`);
    return v;
  };
  const half = str('half', quick ? 'tuning' : 'report');
  if (half !== 'report' && half !== 'tuning' && half !== 'fit') throw new UsageError('--half must be report, tuning or fit (fit: --candidates only)');
  if (half === 'fit' && !o.has('candidates')) throw new UsageError('--half fit is for --candidates (the rank scorers\' fitting set), not for measuring');
  const policies = str('policies', quick ? 'tokenbutler' : 'dense,tokenbutler,window').split(',');
  for (const p of policies) if (p !== 'dense' && p !== 'tokenbutler' && p !== 'window') throw new UsageError(`unknown policy ${p}`);
  const monitors = str('monitors', 'off,on').split(',').map((m) => {
    if (m !== 'off' && m !== 'on') throw new UsageError('--monitors takes off, on or off,on');
    return m === 'on';
  });
  return {
    quick,
    candidates: o.has('candidates'),
    features: o.has('features'),
    lmK: int('lm-k', 0, 0),
    noDot: o.has('no-dot'),
    noArgs: o.has('no-args'),
    noServiceFiles: o.has('no-service-files'),
    half,
    policies: policies as Policy[],
    monitors,
    nim: int('nim', quick ? 15 : 100, 0),
    lines: int('lines', quick ? 12 : 50, 0),
    seed: int('seed', 1, 0),
    perFile: int('per-file', 3, 1),
    maxContextTokens: int('max-context-tokens', 4096, 256),
    budget: int('budget', 512, 16),
    modelDir: path.resolve(str('model', path.join(ROOT, 'models', 'default'))),
    out: path.resolve(str('out', quick ? path.join(ROOT, 'out', 'bench-names-quick') : path.join(ROOT, 'bench', 'names'))),
  };
}

interface Target {
  family: string;
  pkg: string; // npm name
  ws: string; // workspace folder
  rel: string; // file inside it
  text: string;
}

interface Drawn {
  id: string; // ws stem / rel, unique across packages
  offset: number;
  kind: 'dot' | 'arg' | 'line';
  site?: string;
  target: string;
  lineEnd: number;
  t: Target;
  payload?: ContextPayload;
  files?: string[];
  prefixStart?: number;
}

function lineEndAt(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl < 0 ? text.length : nl;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function loadTargets(half: Half): Target[] {
  if (!existsSync(path.join(HELDOUT, 'pkgs'))) throw new UsageError(`no held-out packages in ${HELDOUT}/pkgs: run bash bench/names-fetch.sh first`);
  const pinned = pinnedVersions(path.join(ROOT, 'training', 'dataset', 'packages.pinned.txt'));
  const out: Target[] = [];
  for (const p of PACKAGES.filter((x) => x.half === half)) {
    const v = pinned.get(p.name);
    if (!v) throw new UsageError(`${p.name} is not in training/dataset/packages.pinned.txt`);
    const stem = packStem(p.name, v.version);
    const pkgDir = path.join(HELDOUT, 'pkgs', stem);
    if (!existsSync(path.join(pkgDir, 'package.json'))) throw new UsageError(`${pkgDir} is missing: run bash bench/names-fetch.sh first`);
    const ws = path.join(HELDOUT, 'ws', stem);
    for (const rel of prepareWorkspace(p, pkgDir, ws)) {
      out.push({ family: p.family, pkg: p.name, ws, rel, text: readFileSync(path.join(ws, rel), 'utf8').replace(/\r\n/g, '\n') });
    }
  }
  return out;
}

async function assembleAt(d: Drawn, maxContextTokens: number, serviceFiles: boolean): Promise<boolean> {
  const r = await assembleContext({
    workspaceRoot: d.t.ws,
    currentFile: d.t.rel,
    prefix: d.t.text.slice(0, d.offset),
    // the line is cut at the cursor: the rest of it is what is predicted; the lines after stay
    suffix: d.t.text.slice(d.lineEnd),
    maxContextTokens,
  });
  if (r.currentSkipped) return false;
  if (!serviceFiles) delete r.payload.serviceFiles;
  d.payload = r.payload;
  d.files = r.files;
  d.prefixStart = r.prefixStart;
  return true;
}

async function drawPositions(targets: Target[], o: Options): Promise<Drawn[]> {
  const nimGroups = { dot: new Map<string, Drawn[]>(), arg: new Map<string, Drawn[]>() };
  const lineGroups = new Map<string, Drawn[]>();
  const push = (m: Map<string, Drawn[]>, k: string, d: Drawn) => (m.get(k) ?? m.set(k, []).get(k)!).push(d);
  for (const t of targets) {
    const id = `${path.basename(t.ws)}/${t.rel}`;
    for (const p of nimPositions(t.rel, t.text) as NimPosition[]) {
      push(nimGroups[p.kind], t.family, { id, offset: p.offset, kind: p.kind, site: p.site, target: p.target, lineEnd: lineEndAt(t.text, p.offset), t });
    }
    for (const p of linePositions(t.rel, t.text, seeded(o.seed ^ hash(id))) as LinePosition[]) {
      push(lineGroups, t.family, { id, offset: p.offset, kind: 'line', target: p.target, lineEnd: p.lineEnd, t });
    }
  }
  const keyed = (m: Map<string, Drawn[]>) => new Map([...m].map(([k, v]) => [k, v.map((d) => ({ ...d, file: d.id }))]));
  // a next-identifier position counts only where its identifier is visible before the cursor (in
  // the related files or the current prefix as assembled), i.e. it could have been copied
  const nimAccept = async (d: Drawn) => (await assembleAt(d, o.maxContextTokens, !o.noServiceFiles)) && containsIdentifier(visibleBefore(d.payload!), d.target);
  const dot = o.noDot ? [] : await draw(keyed(nimGroups.dot), o.nim, o.seed, o.perFile, nimAccept);
  const arg = o.noArgs ? [] : await draw(keyed(nimGroups.arg), o.nim, o.seed + 1, o.perFile, nimAccept);
  const line = await draw(keyed(lineGroups), o.lines, o.seed + 2, o.perFile, (d) => assembleAt(d, o.maxContextTokens, !o.noServiceFiles));
  const all = [...dot, ...arg, ...line].map((x) => x.item);
  // one pass over files in order: consecutive positions share the workspace and mostly the file
  return all.sort((a, b) => a.t.family.localeCompare(b.t.family) || a.id.localeCompare(b.id) || a.offset - b.offset || a.kind.localeCompare(b.kind));
}

const quiet: Hooks = { emit: () => undefined, cancelled: () => false };

function rowName(policy: Policy, monitors: boolean): string {
  return `${policy} · monitors ${monitors ? 'on' : 'off'}`;
}

function score(d: Drawn, completion: string): Pick<RowResult, 'hit' | 'em' | 'es' | 'repeated' | 'syntaxAdded' | 'syntaxAddedSameCode' | 'newErrors'> {
  const prefix = d.t.text.slice(0, d.offset);
  const suffix = d.t.text.slice(d.lineEnd);
  const syn = syntaxCheck(d.t.rel, prefix, completion, suffix);
  const rep = repeatedSpan(completion);
  const base = { repeated: rep ? rep.join(' ') : null, syntaxAdded: syn.added, syntaxAddedSameCode: syn.addedSameCode, newErrors: syn.newErrors };
  if (d.kind === 'line') return { ...base, em: exactMatch(completion, d.target), es: Number(editSimilarity(completion, d.target).toFixed(2)) };
  return { ...base, hit: nimHit(completion, d.target) };
}

async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const t0 = Date.now();
  const targets = loadTargets(o.half);
  const drawn = await drawPositions(targets, o);
  if (o.candidates) return candidateReport(drawn, o);
  const rows = o.policies.flatMap((p) => o.monitors.map((m) => ({ policy: p, monitors: m, name: rowName(p, m) })));
  process.stderr.write(
    `bench-names: ${o.half} half, ${targets.length} files; ${drawn.filter((d) => d.kind === 'dot').length} after-dot, ` +
      `${drawn.filter((d) => d.kind === 'arg').length} args/= and ${drawn.filter((d) => d.kind === 'line').length} line positions x ${rows.length} rows\n`,
  );
  const cfg: EngineConfig = {
    modelDir: o.modelDir,
    executionProvider: 'cpu',
    policy: 'dense',
    budget: o.budget,
    maxContextTokens: o.maxContextTokens,
    maxNewTokens: Math.max(NIM_MAX_NEW, LINE_MAX_NEW),
    prefill: 'dense',
    predictionInterval: DEFAULT_PREDICTION_INTERVAL,
  };
  if (!existsSync(path.join(o.modelDir, 'manifest.json'))) throw new UsageError(`no model in ${o.modelDir} (manifest.json missing)`);
  const engine = new Engine();
  const loaded = await engine.configure(cfg, quiet);
  const samples: Sample[] = [];
  const tRun = Date.now();
  for (let i = 0; i < drawn.length; i++) {
    const d = drawn[i];
    const ctx = d.payload!;
    const lc = offsetToLineCol(d.t.text, d.offset);
    const visible = visibleBefore(ctx);
    const floorText = d.kind === 'line' ? copyGuess(visible) : recencyGuess(visible);
    const sample: Sample = {
      id: i,
      kind: d.kind,
      site: d.site,
      family: d.t.family,
      package: d.t.pkg,
      file: d.id,
      offset: d.offset,
      line: lc.line,
      column: lc.column,
      target: d.target,
      prefixTail: ctx.current.prefix.slice(-300),
      suffixHead: ctx.current.suffix.slice(0, 160),
      contextFiles: ctx.files.map((f) => f.file),
      rows: { [FLOOR_ROW]: { completion: floorText, ...score(d, floorText) } },
    };
    // rows take turns running first, so no row always pays (or always skips) the cold prefill
    const order = rows.map((_, j) => rows[(i + j) % rows.length]);
    let sharedPrefillMs: number | undefined;
    // as the extension's warmup does on opening a file: the language service holds this document
    if (rows.some((r) => r.monitors)) await engine.prepareMonitors(ctx, 15_000);
    for (const row of order) {
      const req = {
        context: ctx,
        policy: row.policy,
        multiline: false,
        maxNewTokens: d.kind === 'line' ? LINE_MAX_NEW : NIM_MAX_NEW,
        prefill: 'dense',
        monitors: row.monitors,
        // tokenbutler selects at every context here (below the crossover the engine would run dense
        // unless the selection is shown): the rows compare the sparse decode's quality with dense
        chosen: true,
      } as Parameters<Engine['complete']>[0];
      const started = performance.now();
      const r = await engine.complete(req, quiet);
      const wall = performance.now() - started;
      sharedPrefillMs ??= r.timings.prefillMs;
      sample.contextTokens = r.contextTokens;
      // the prefill is shared by the rows of a position: every row is charged the first row's
      // prefill plus its own time before the first token (stream building, monitors) and after it
      const own = r.timings.firstTokenMs - r.timings.prefillMs;
      const first = sharedPrefillMs + own;
      sample.rows[row.name] = {
        completion: r.completion,
        ...score(d, r.completion),
        firstTokenMs: Number(first.toFixed(1)),
        totalMs: Number((first + wall - r.timings.firstTokenMs).toFixed(1)),
        generatedTokens: r.generatedTokens,
        ...(r.healed !== undefined ? { healed: r.healed } : {}),
        ...(r.timings.monitorMs !== undefined ? { monitorMs: Number(r.timings.monitorMs.toFixed(2)) } : {}),
        stopReason: r.stopReason,
        ...((r as { monitor?: unknown }).monitor ? { monitor: (r as { monitor?: unknown }).monitor } : {}),
      };
    }
    samples.push(sample);
    if ((i + 1) % 10 === 0 || i + 1 === drawn.length) {
      const el = (Date.now() - tRun) / 1000;
      process.stderr.write(`bench-names: ${i + 1}/${drawn.length} positions, ${el.toFixed(0)} s, about ${((el / (i + 1)) * (drawn.length - i - 1)).toFixed(0)} s left\n`);
    }
  }
  const command = `nice -n 10 node out/bench-names.js ${argv.join(' ')}`.trim();
  const summaries = [
    ...rows.map((r) => ({ ...summarize(samples, r.name), label: `${r.policy} (budget ${r.policy === 'window' ? 0 : o.budget}) · monitors ${r.monitors ? 'on' : 'off'}` })),
    { ...summarize(samples, FLOOR_ROW), label: 'recency rule / copy rule (no model)' },
  ];
  const settings = {
    half: o.half,
    seed: o.seed,
    perFile: o.perFile,
    maxContextTokens: o.maxContextTokens,
    budget: o.budget,
    prefill: 'dense (shared by the rows of a position)',
    predictionInterval: DEFAULT_PREDICTION_INTERVAL,
    tokenHealing: TOKEN_HEALING.enabled ? 'on' : 'off',
    arityMonitor: DEFAULT_MONITOR_OPTIONS.arity ? 'on' : 'off',
    positionGate: DEFAULT_MONITOR_OPTIONS.positionGate ? 'on' : 'off',
    typeFit: DEFAULT_MONITOR_OPTIONS.typeFit,
    rankScorer: DEFAULT_MONITOR_OPTIONS.rankScorer,
    nimMaxNewTokens: NIM_MAX_NEW,
    lineMaxNewTokens: LINE_MAX_NEW,
    model: loaded.model,
    executionProvider: loaded.executionProvider,
    threads: `${os.cpus().length}x ${os.cpus()[0]?.model ?? 'cpu'}`,
  };
  const cost = monitorCost(samples, engine.languageService);
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(`${o.out}.json`, JSON.stringify({ command, started: new Date(t0).toISOString(), settings, summaries, cost, samples }, null, 1) + '\n');
  writeFileSync(`${o.out}.md`, markdown(command, settings, summaries, samples, Date.now() - t0, `${path.basename(o.out)}.json`, cost));
  process.stdout.write(table(summaries) + '\n');
  process.stderr.write(`bench-names: wrote ${path.relative(ROOT, o.out)}.md and .json in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return 0;
}

async function candidateReport(drawn: Drawn[], o: Options): Promise<number> {
  const ts = new TsService();
  let lm: { scorer: LmScorer; k: number } | undefined;
  if (o.lmK > 0) {
    const engine = new Engine();
    await engine.configure({ modelDir: o.modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: o.budget, maxContextTokens: o.maxContextTokens, maxNewTokens: 8, prefill: 'dense', predictionInterval: 1 }, quiet);
    lm = {
      k: o.lmK,
      // the punctuation before the cursor goes with the name (`.` + `batch`), as token healing
      // decodes it: a prompt that ends in a lone `.` is one the model rarely saw in training
      scorer: async (ctx, name) => {
        const lead = /[^\w$]{0,3}$/.exec(ctx.current.prefix)![0];
        const healed = { ...ctx, current: { ...ctx.current, prefix: ctx.current.prefix.slice(0, ctx.current.prefix.length - lead.length) } };
        const r = await engine.explain({ context: healed, selection: lead + name, monitors: false }, quiet);
        return { first: r.tokens[0]?.logprob ?? -Infinity, total: r.tokens.reduce((a, t) => a + t.logprob, 0), tokens: r.tokens.length };
      },
    };
  }
  const rows: CandidateRow[] = [];
  let i = 0;
  for (const d of drawn) {
    if (d.kind !== 'line') rows.push(await candidates(ts, d.kind, d.id, d.payload!, d.target, o.features, lm));
    if (++i % 50 === 0) process.stderr.write(`bench-names: ${i}/${drawn.length} positions\n`);
  }
  await ts.close();
  writeRows(`${o.out}-candidates.json`, rows);
  process.stdout.write(summarizeCandidates(rows) + '\n');
  return 0;
}

/** What the monitors cost: the time to open each name episode (at the cursor it includes waiting
 *  for the language service's answer, which overlaps the prefill), by source, and the service's
 *  start and memory. */
function monitorCost(samples: Sample[], ls: TsStats | undefined): string {
  const bySource = new Map<string, number[]>();
  for (const s of samples) {
    for (const [name, r] of Object.entries(s.rows)) {
      if (!name.endsWith('monitors on')) continue;
      for (const e of ((r as { monitor?: { events: { source: string; ms: number }[] } }).monitor?.events ?? [])) (bySource.get(e.source) ?? bySource.set(e.source, []).get(e.source)!).push(e.ms);
    }
  }
  const strict = [...new Set(samples.flatMap((s) => Object.keys(s.rows)))].map((name) => {
    const rs = samples.map((s) => s.rows[name]).filter((r) => r !== undefined);
    return `${name} ${((100 * rs.filter((r) => r.syntaxAddedSameCode).length) / Math.max(1, rs.length)).toFixed(1)}%`;
  });
  const parts = [...bySource].map(([src, ms]) => `${src} ${percentile(ms, 50).toFixed(1)} / ${percentile(ms, 95).toFixed(1)} ms (n ${ms.length})`);
  // what a suggestion waits for: the decode loop's waits on the monitors (a query on generated text
  // overlaps the model's step; the one at the cursor overlaps the prefill) and the syntax cut
  const waits = [...new Set(samples.flatMap((s) => Object.keys(s.rows)))].flatMap((name) => {
    const ms = samples.map((s) => s.rows[name]?.monitorMs).filter((v): v is number => v !== undefined);
    return ms.length ? [`${name} ${percentile(ms, 50).toFixed(1)} / ${percentile(ms, 95).toFixed(1)} ms (n ${ms.length})`] : [];
  });
  const service = ls
    ? `language service: ready ${ls.readyMs?.toFixed(0) ?? '?'} ms after its first file set, heap ${ls.heapMb?.toFixed(0) ?? '?'} MB then (capped at ${TS_HEAP_MB} MB), ${ls.queries} queries, ${ls.timeouts} past their deadline${ls.failed ? `, ${ls.failed}` : ''}`
    : 'language service: not started';
  return `Monitors' cost per name episode, p50 / p95: ${parts.join('; ') || 'none'}. The ${service}.\n\nTime a suggestion waited on the monitors (the decode loop's waits and the syntax cut, per completion), p50 / p95: ${waits.join('; ') || 'none'}.\n\nAdds a syntax error under the stricter rule (an error of another code where the file without the insertion had one counts as new): ${strict.join(', ')}.`;
}

function markdown(command: string, settings: Record<string, unknown>, summaries: Parameters<typeof table>[0], samples: Sample[], ms: number, jsonName: string, cost: string): string {
  const byFamily = new Map<string, number>();
  for (const s of samples) byFamily.set(s.family, (byFamily.get(s.family) ?? 0) + 1);
  const setting = Object.entries(settings).map(([k, v]) => `${k} ${v}`).join(', ');
  return `# Suggestions that name what exists: next-identifier match and line completion

Command: \`${command}\` (after \`bash bench/names-fetch.sh\` and \`node esbuild.mjs\`), ${new Date().toISOString()}, ${(ms / 60000).toFixed(1)} min.
Settings: ${setting}.
Held-out half: **${settings.half}** (families split in src/bench/names/heldout.ts; tune decoding rules on the tuning half only).
Positions per family: ${[...byFamily].map(([f, n]) => `${f} ${n}`).join(', ')}.

${table(summaries)}

${cost}

## What is measured

- **Positions** come from the second half of each target file (its first half is context the model has read), drawn with a fixed seed: families take turns, at most ${settings.perFile} positions of a kind per file. The workspace is the package's target sources and its .d.ts files; the context is assembled as the extension does (related files, then the current file; \`--max-context-tokens ${settings.maxContextTokens}\`); the language service also reads the related script files the budget left out (\`serviceFiles\`; \`--no-service-files\` drops them, tuning half only).
- **NIM after-dot**: the cursor right after \`receiver.\`; **NIM args / \`=\`**: the cursor at the start of an identifier that begins a call argument or the value after \`=\` (declaration, assignment, default value). Only positions whose identifier (>= 2 characters) occurs, as a whole word, in the text the model sees before the cursor (related files or the current prefix). The rest of the line is cut; the lines after are the suffix. A **hit**: the completion's first line, leading spaces skipped, starts with an identifier equal to the one written (\`fooBar\` for \`foo\` is a miss). Single-line completion, at most ${settings.nimMaxNewTokens} new tokens.
- **Line completion** (in the manner of CrossCodeEval, Ding et al. 2023): code lines of 8-160 characters with >= 4 tokens, cut at a token start after the line's first token, leaving >= 3 non-space characters; the completion's first line against the rest of the line, both trimmed: **EM** exact match, **ES** = 100 · (1 − Levenshtein / max length), mean over positions. Single-line, at most ${settings.lineMaxNewTokens} new tokens.
- **Repeated span**: share of all completions of the row (NIM and line) in which some span of >= 3 tokens occurs >= 3 times without overlapping itself; tokens are identifiers, numbers and single non-space characters of the completion text.
- **Adds syntax error**: share of all completions of the row whose first line, inserted at the cut, gives a TypeScript parser diagnostic (\`ts.createSourceFile\` parse diagnostics, syntax only) from the start of the cut line to the end of the next line that the file without the insertion does not have (same code at the same place).
- **Latency**: the rows of one position run back to back (which row goes first rotates), so they share its prefill; each row is charged that prefill plus its own time before the first token (first token ms) and its whole request (total ms). Consecutive positions are in file order in one workspace, so the related files stay cached as in an editor.
- **No-model floor**: NIM: the identifier that followed the same key last time in the visible text, where the key is the last identifier before the cursor plus the punctuation up to the cursor (\`foo.\`, \`bar(\`, \`x=\`); line: the rest of the line after the last earlier occurrence of the longest tail (3-80 characters) of the cut line.
- **Name ranking** (monitors on): the ranking of src/engine/monitors/rank.ts (${DEFAULT_MONITOR_OPTIONS.rankScorer === 'trees' ? 'gradient-boosted trees, rank-trees.json, fitted by training/evaluation/fit_rank_trees.py' : 'the linear and hidden-layer scorers of rank-weights.ts, fitted by training/evaluation/fit_rank.py'}) is fitted on candidate dumps (\`--candidates --features\`) of the fitting set (training-corpus packages, \`--half fit\`, never held out) and judged on the tuning half, never on this report half; experiments in bench/names-ranking.md.
- Monitors on/off: the \`monitors\` request field of \`Engine.complete\`; an engine without it ignores the field and both rows are equal.
- Token healing (src/engine/decode/heal.ts; every model row, monitors on or off): the prompt's last token is dropped and the completion's first tokens spell its text out; \`--no-heal\` turns it off (tuning half only; A/B in bench/token-healing.md).
- Expected type (monitors on): after \`receiver.\` where the code expects a type (the access's contextual type: a parameter, a property, a typed declaration, a return), a member whose type or call result fits it gets \`typeFit\` (${DEFAULT_MONITOR_OPTIONS.typeFit}) added to its ranking score (src/engine/monitors/ts-worker.ts membersFitting); \`--type-fit G\` sets it (tuning half only; bench/names-ranking.md).
- Class gain (monitors on): at an identifier start the names' bias may raise the model's probability that a name comes by at most \`identClassGain\` nats (${DEFAULT_MONITOR_OPTIONS.identClassGain}) plus \`identClassHistory\` (${DEFAULT_MONITOR_OPTIONS.identClassHistory}) times the log odds of a name among what followed the same key before; \`--ident-class-gain G\` and \`--ident-class-history H\` set them (tuning half only; bench/names-ranking.md).
- Types (monitors on, TS/JS): at the cursor's identifier start where the parser reads a type (\`x: \`, \`Map<K, \`), no names, no bias and no class gain (src/engine/monitors/ts-position.ts); \`--no-position-gate\` turns it off (tuning half only; bench/names-ranking.md).

Every sample (inputs trimmed, every row's completion and scores): \`${jsonName}\` beside this file.
`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench-names: ${(e as Error).message}\n`);
    if (e instanceof UsageError) process.stderr.write(USAGE + '\n');
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
