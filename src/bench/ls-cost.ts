// What the monitors' TypeScript language service costs on a large real workspace (issue 24 item 2:
// "its memory and start time on a large real workspace (a thousand files or more) are reported and
// capped"). For each workspace: a user opens N script files in turn; at each, the cursor is right
// after a member access (`receiver.`) past the file's middle. The context is assembled as the
// extension does (16k tokens), the service gets that file set (ts-service.ts setFiles, as the
// engine's warmup sends it), and the names query at the cursor is timed twice: the first after the
// file set was sent (`--gap-ms` later: the user reads, then types the `.`) and again (warm). Then the service's heap and
// program size. Printed as markdown; nothing is written to disk.
//   node esbuild.mjs && node out/bench-ls.js [--repos DIR,DIR] [--files N] [--seed S] [--gap-ms MS]
//     [--baseline-worker OTHER/dist/engine-ts-worker.js --baseline-label NAME]
import { readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { assembleContext } from '../context';
import { serviceFileSet } from '../engine/monitors/monitor';
import { inStringOrComment } from '../engine/monitors/triggers';
import { TS_HEAP_MB, TsService } from '../engine/monitors/ts-service';
import { TS_EXTENSIONS } from '../engine/monitors/ts-protocol';
import { percentile } from './names/metrics';
import { seeded, shuffle } from './names/positions';
import { median, opt, sleep } from './newcomer/common';

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_REPOS = ['training/work/heldout/ws/leaflet-1.9.4', 'training/work/heldout/pkgs/rxjs-7.8.2', 'training/work/heldout/pkgs/three-0.187.0'];
/** The extension's default context size (settings.ts). */
const CONTEXT_TOKENS = 16384;
/** A query's deadline here: long enough to time what it costs, not what the engine would wait. */
const QUERY_MS = 20_000;

interface Row {
  file: string;
  assembleMs: number;
  serviceSet: number;
  firstMs: number;
  warmMs: number;
  names: number;
  heapMb: number;
  programFiles: number;
  updateMs?: number;
}

function scriptFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...scriptFiles(dir, r));
    else if (TS_EXTENSIONS.test(e.name) && !e.name.endsWith('.d.ts')) out.push(r);
  }
  return out.sort();
}

/** The offset right after the first member access (`receiver.`) past the middle of `text` that is
 *  not in a string or a comment; undefined when there is none. */
function memberAccessAt(text: string): number | undefined {
  const re = /[A-Za-z_$][\w$]*\.(?=[A-Za-z_$])/g;
  re.lastIndex = Math.floor(text.length / 2);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index + m[0].length;
    if (!inStringOrComment(text.slice(0, at))) return at;
  }
  return undefined;
}

async function measure(repo: string, n: number, seed: number, gapMs: number, workerPath?: string): Promise<{ files: number; mb: number; readyMs?: number; readyHeapMb?: number; rows: Row[]; timeouts: number; failed?: string }> {
  const all = scriptFiles(repo);
  const mb = all.reduce((a, f) => a + statSync(path.join(repo, f)).size, 0) / 2 ** 20;
  const rand = seeded(seed);
  const picks: { file: string; text: string; at: number }[] = [];
  for (const file of shuffle(all, rand)) {
    if (picks.length >= n) break;
    const text = readFileSync(path.join(repo, file), 'utf8');
    const at = text.length > 2000 ? memberAccessAt(text) : undefined;
    if (at !== undefined) picks.push({ file, text, at });
  }
  const ts = new TsService(workerPath, (m) => process.stderr.write(`[ts] ${m}\n`));
  const rows: Row[] = [];
  try {
    for (const p of picks) {
      const lineEnd = p.text.indexOf('\n', p.at);
      const prefix = p.text.slice(0, p.at);
      const suffix = lineEnd < 0 ? '' : p.text.slice(lineEnd);
      const t0 = performance.now();
      const r = await assembleContext({ workspaceRoot: repo, currentFile: p.file, prefix, suffix, maxContextTokens: CONTEXT_TOKENS });
      const assembleMs = performance.now() - t0;
      const whole = prefix + suffix;
      // the warmup came before the user typed the `.`: the query's text differs from it by that character
      const before = prefix.slice(0, -1) + suffix;
      const set = serviceFileSet(r.payload, { file: p.file, text: before });
      ts.setFiles(set);
      if (!(await ts.whenReady(60_000))) break;
      await sleep(gapMs);
      const t1 = performance.now();
      const first = await ts.names(p.file, whole, prefix.length, QUERY_MS);
      const firstMs = performance.now() - t1;
      const t2 = performance.now();
      await ts.names(p.file, whole, prefix.length, QUERY_MS);
      const warmMs = performance.now() - t2;
      const held = await ts.holding(workerPath ? 500 : QUERY_MS); // a baseline worker may not answer it
      rows.push({ file: p.file, assembleMs, serviceSet: set.length, firstMs, warmMs, names: first?.names.length ?? 0, heapMb: held?.heapMb ?? NaN, programFiles: held?.programFiles ?? 0, updateMs: held?.updateMs });
    }
    return { files: all.length, mb, readyMs: ts.stats.readyMs, readyHeapMb: ts.stats.heapMb, rows, timeouts: ts.stats.timeouts, failed: ts.stats.failed };
  } finally {
    await ts.close();
  }
}

/** The worker's program updates at a new file set (none before ts-worker updated it eagerly). */
function updates(r: Row[]): string {
  const u = r.map((x) => x.updateMs).filter((x): x is number => x !== undefined);
  return u.length ? `${median(u).toFixed(0)} / ${Math.max(...u).toFixed(0)}` : '—';
}

async function main(): Promise<number> {
  const repos = opt('repos', DEFAULT_REPOS.join(',')).split(',').map((r) => path.resolve(ROOT, r));
  const n = Number(opt('files', '20'));
  const seed = Number(opt('seed', '1'));
  // between opening a file (the warmup gives the service its file set) and the first completion there
  const gapMs = Number(opt('gap-ms', '500'));
  // the same run with another build's worker (dist/engine-ts-worker.js of a worktree), row by row
  const baseline = opt('baseline-worker', '');
  const baseLabel = opt('baseline-label', 'baseline');
  if (!Number.isInteger(n) || n < 1) throw new Error(`--files must be a positive integer, got ${opt('files', '')}`);
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new Error(`--gap-ms must be a number of ms >= 0, got ${opt('gap-ms', '')}`);
  const lines = [
    `Run ${new Date().toISOString()}, command \`node out/bench-ls.js ${process.argv.slice(2).join(' ')}\`: ${n} files opened in turn per workspace, the cursor after a member access past each file's middle, the file set sent with the cursor before the \`.\` (the warmup), the \`.\` typed and the first query ${gapMs} ms later, context ${CONTEXT_TOKENS} tokens; the service's heap is capped at ${TS_HEAP_MB} MB.`,
    '',
    '| workspace | script files (MB) | cold start: ready ms, heap MB | assembly ms p50 / max | files the service reads p50 / max | program files max | first query after the file set changed, ms p50 / p95 / max | same query again, ms p50 / max | heap MB p50 / max | program update after a new file set, ms p50 / max | names p50 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const runs: [string, string | undefined][] = baseline ? [['this build', undefined], [baseLabel, path.resolve(baseline)]] : [['', undefined]];
  for (const repo of repos) for (const [label, worker] of runs) {
    const m = await measure(repo, n, seed, gapMs, worker);
    const r = m.rows;
    const f = (x: number) => x.toFixed(0);
    lines.push(
      `| ${path.relative(ROOT, repo)}${label ? ` (${label})` : ''} | ${m.files} (${m.mb.toFixed(1)}) | ${f(m.readyMs ?? NaN)}, ${f(m.readyHeapMb ?? NaN)} | ${f(median(r.map((x) => x.assembleMs)))} / ${f(Math.max(...r.map((x) => x.assembleMs)))} | ${f(median(r.map((x) => x.serviceSet)))} / ${Math.max(...r.map((x) => x.serviceSet))} | ${Math.max(...r.map((x) => x.programFiles))} | ${f(median(r.map((x) => x.firstMs)))} / ${f(percentile(r.map((x) => x.firstMs), 95))} / ${f(Math.max(...r.map((x) => x.firstMs)))} | ${median(r.map((x) => x.warmMs)).toFixed(1)} / ${f(Math.max(...r.map((x) => x.warmMs)))} | ${f(median(r.map((x) => x.heapMb)))} / ${f(Math.max(...r.map((x) => x.heapMb)))} | ${updates(r)} | ${median(r.map((x) => x.names))} |` +
        (m.failed && m.failed !== 'closed' ? ` service failed: ${m.failed}` : ''),
    );
    process.stderr.write(`bench-ls: ${path.relative(ROOT, repo)}: ${r.length} files, timeouts ${m.timeouts}; per file (first query ms): ${r.map((x) => `${x.file} ${f(x.firstMs)}`).join(', ')}\n`);
  }
  lines.push('', `Memory of the engine process beside it: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB at the end (the bench's own heap included).`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench-ls: ${(e as Error).message}\n`);
    process.exit(2);
  },
);
