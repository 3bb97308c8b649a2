// Speed benchmark: dense vs window vs tokenbutler decode measured side by side, in one run, over
// growing context lengths; prefill throughput; warm-completion latency after a one-line edit with
// 16k tokens cached; cache memory per token. Ratios, not absolute times, are the result: the
// machines are shared and noisy, so policies are interleaved round by round. The peer, llama.cpp
// on a GGUF of the same weights (bench-peer.ts), takes its turn in the same rounds.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from './model';
import { mulberry32 } from '../shared/random';
import type { ContextPayload, Policy } from '../shared/protocol';
import { Engine, Hooks, SPARSE_PREFILL_BUDGET, SPARSE_PREFILL_CHUNK, SPARSE_PREFILL_FROM, selectionOf } from './engine';
import { GGUF_OMITS, LlamaPeer, type GgufType } from './bench-peer';
import { crossoverOn, denseBelow, setCrossover, setDenseBelow } from './crossover';

export interface BenchOptions {
  contexts: number[];
  policies: Policy[];
  budget: number;
  steps: number;
  warm: boolean;
  /** llama.cpp rows: the GGUF weight types to run (none: no peer row) */
  peer?: GgufType[];
  /** turns the crossover switch on (crossover.ts) at the model's crossover, also where the
   *  engine's environment turned it off (TOKENBUTLER_AUTO_DENSE=0) ... */
  autoDense?: boolean;
  /** ... or at N cached tokens (tokenbutler decodes dense below it; 0: never) */
  denseBelow?: number;
  log: (m: string) => void;
}

export interface BenchRow {
  context: number;
  policy: string; // a Policy, tokenbutler-i2 (prediction interval 2), or llama.cpp-<type> (the peer)
  settings: string; // what produced the row: runtime, threads, KV type, budget
  msPerToken: number; // median over interleaved rounds (interval n > 1: cycleQuantile of its fresh and re-reading steps)
  p90MsPerToken: number;
  /** interval n > 1: the p50 of its fresh steps (selection with neighbour fetch) and of its re-reading steps */
  freshMs?: number;
  reusedMs?: number;
  prefillTokensPerSec: number;
}

const hooks: Hooks = { emit: () => undefined, cancelled: () => false };

/** The prediction intervals the bench runs beside interval 1 (tokenbutler-i<n> rows). */
export const BENCH_INTERVALS = [2, 4, 8];

/** ms/token of a variant with prediction interval n from its fresh and its re-reading steps: the
 *  quantile of each kind, weighted as they come in a cycle (1 fresh, n - 1 re-reading). A quantile
 *  of the mixed samples would land on the border of the two kinds (the p50 of alternating fresh and
 *  re-reading steps is about the fastest fresh step), not on the cost per token. */
export function cycleQuantile(fresh: number[], reused: number[], interval: number, q: number): number {
  if (interval <= 1 || !reused.length) return quantile(fresh, q);
  return (quantile(fresh, q) + (interval - 1) * quantile(reused, q)) / interval;
}

/** One variant's turn in a round of interleaved timing, from T cached tokens of `ids`: one untimed
 *  step of its own graph (the first step after another graph ran pays for caches that are not its
 *  own), then `steps` timed ones; with interval n > 1 a fresh selection, then n - 1 steps re-reading
 *  it, each timing pushed to `fresh` or `reused`. */
export async function timeSteps(engine: Engine, ids: number[], T: number, policy: Policy, budget: number, interval: number, steps: number, fresh: number[], reused: number[]): Promise<void> {
  engine.kv!.truncate(T);
  await engine.step([ids[T % ids.length]], policy, budget, undefined, false, interval);
  engine.kv!.truncate(T);
  let last: BigInt64Array | undefined;
  for (let s = 0; s < steps; s++) {
    const reuse = s % interval !== 0 ? last : undefined;
    const t = performance.now();
    const r = await engine.step([ids[(T + s) % T]], policy, budget, reuse, false, interval);
    (reuse ? reused : fresh).push(performance.now() - t);
    if (interval > 1) last = selectionOf(r);
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Real code to fill the warm-completion context: this repository's sources when present. */
function sampleTexts(): { file: string; text: string }[] {
  const root = path.resolve(__dirname, '..');
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|py|mjs)$/.test(name)) out.push({ file: path.relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  for (const d of ['src', 'training', 'test']) walk(path.join(root, d));
  return out;
}

export async function runBench(engine: Engine, o: BenchOptions) {
  const m = engine.loaded!;
  const V = m.config.vocab_size;
  const rand = mulberry32(1234);
  const ids: number[] = [];
  const rows: BenchRow[] = [];
  // each policy, plus tokenbutler with prediction intervals 2, 4, 8 (a fresh selection with neighbour
  // fetch, then interval - 1 steps re-reading it)
  const own = o.denseBelow;
  if (o.autoDense || own !== undefined) setCrossover(m, true);
  setDenseBelow(m, undefined);
  const modelCrossover = denseBelow(m);
  setDenseBelow(m, own);
  const crossover = crossoverOn(m) ? denseBelow(m) : 0;
  // below the crossover the tokenbutler rows run dense (crossover.ts); tokenbutler-sparse forces the sparse step there
  type Variant = { label: string; policy: Policy; interval: number; forceSparse?: boolean };
  const variants: Variant[] = o.policies.map((p) => ({ label: p, policy: p, interval: 1 }));
  if (o.policies.includes('tokenbutler')) for (const i of BENCH_INTERVALS) variants.push({ label: `tokenbutler-i${i}`, policy: 'tokenbutler', interval: i });
  if (o.policies.includes('tokenbutler') && crossover > 0) variants.push({ label: 'tokenbutler-sparse', policy: 'tokenbutler', interval: 1, forceSparse: true });
  const forced = <T>(on: boolean | undefined, f: () => Promise<T>): Promise<T> => {
    if (!on) return f();
    setDenseBelow(m, 0);
    return f().finally(() => setDenseBelow(m, own));
  };
  const breakdowns: Record<number, Record<string, number>> = {};
  let peakBytes = 0;
  const ours = (v: Variant, T: number) => {
    const at = crossoverOn(m) ? denseBelow(m, v.interval) : 0;
    const auto = v.policy === 'tokenbutler' && !v.forceSparse && T < at;
    return `ORT ${m.executionProvider} 1 thread, KV ${m.config.kv_cache === 'int8' ? 'int8 (row steps)' : 'f32'}${v.label === 'dense' ? '' : `, budget ${v.label === 'window' ? 0 : o.budget} + ${m.selection.sinks} sinks + ${m.selection.recent} recent`}` +
      `${v.interval > 1 ? `, interval ${v.interval} + neighbour fetch` : ''}${auto ? `; runs dense (below the crossover, ${at} cached tokens)` : ''}`;
  };
  const active = (T: number) => variants.filter((v) => !v.forceSparse || T < crossover);
  const { peers, notes } = await openPeers(m.dir, o, Math.max(...o.contexts) + Math.ceil(o.steps / 3) + 8);
  for (const T of [...o.contexts].sort((a, b) => a - b)) {
    const before = ids.length;
    while (ids.length < T) ids.push(5 + Math.floor(rand() * (V - 5)));
    const t0 = performance.now();
    engine.kv!.truncate(before);
    await engine.prefill(ids, hooks, 'sparse');
    const prefillTps = ((T - before) / (performance.now() - t0)) * 1000;
    o.log(`context ${T}: prefilled ${T - before} tokens at ${prefillTps.toFixed(0)} tok/s`);
    const peerTps = new Map<string, number>();
    for (const p of peers) {
      const t1 = performance.now();
      await p.peer.extendTo(ids, T);
      peerTps.set(p.label, ((T - before) / (performance.now() - t1)) * 1000);
      o.log(`  ${p.label}: prefilled ${T - before} tokens at ${peerTps.get(p.label)!.toFixed(0)} tok/s`);
    }
    const times = new Map<string, number[]>([...active(T), ...peers].map((v) => [v.label, []]));
    const reusedTimes = new Map<string, number[]>(active(T).map((v) => [v.label, []])); // steps re-reading a selection
    for (let round = 0; round < 3; round++) {
      // each round starts with another variant (and timeSteps warms each variant's own graph first)
      const order = active(T).map((_, i, a) => a[(i + round) % a.length]);
      for (const v of order) {
        await forced(v.forceSparse, () => timeSteps(engine, ids, T, v.policy, o.budget, v.interval, Math.ceil(o.steps / 3), times.get(v.label)!, reusedTimes.get(v.label)!));
      }
      for (const p of peers) times.get(p.label)!.push(...await p.peer.decode(ids[T % ids.length], Math.ceil(o.steps / 3)));
    }
    if (o.policies.includes('tokenbutler')) {
      const b = await forced(true, () => breakdown(engine, ids[T % ids.length], o.budget)); // the sparse step, also below the crossover
      breakdowns[T] = b;
      o.log(`  tokenbutler breakdown (ORT profile): ${Object.entries(b).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')} ms`);
    }
    peakBytes = Math.max(peakBytes, engine.kv!.bytes);
    engine.kv!.truncate(T);
    for (const v of [...active(T).map((x) => ({ ...x, settings: ours(x, T), tps: prefillTps })), ...peers.map((p) => ({ ...p, tps: peerTps.get(p.label)! }))]) {
      const ts = times.get(v.label)!;
      const re = reusedTimes.get(v.label) ?? [];
      const n = 'interval' in v ? v.interval : 1;
      const p50 = cycleQuantile(ts, re, n, 0.5);
      const p90 = cycleQuantile(ts, re, n, 0.9);
      rows.push({ context: T, policy: v.label, settings: v.settings, msPerToken: p50, p90MsPerToken: p90, prefillTokensPerSec: v.tps, ...(re.length ? { freshMs: quantile(ts, 0.5), reusedMs: quantile(re, 0.5) } : {}) });
      o.log(`  ${v.label.padEnd(11)} ${p50.toFixed(2)} ms/token (p90 ${p90.toFixed(2)})${re.length ? `; fresh step ${quantile(ts, 0.5).toFixed(2)}, re-reading step ${quantile(re, 0.5).toFixed(2)}` : ''}`);
    }
  }
  for (const p of peers) await p.peer.dispose();
  const ratios: Record<string, number> = {};
  for (const T of o.contexts) {
    const d = rows.find((r) => r.context === T && r.policy === 'dense');
    for (const r of rows.filter((x) => x.context === T && x.policy !== 'dense' && !x.policy.startsWith('llama.cpp'))) {
      if (d) ratios[`dense/${r.policy}@${T}`] = Number((d.msPerToken / r.msPerToken).toFixed(2));
    }
    for (const p of peers) { // how much faster each of ours is than the peer (> 1: ours is faster)
      const pr = rows.find((r) => r.context === T && r.policy === p.label);
      for (const r of rows.filter((x) => x.context === T && !x.policy.startsWith('llama.cpp'))) {
        if (pr) ratios[`${p.label}/${r.policy}@${T}`] = Number((pr.msPerToken / r.msPerToken).toFixed(2));
      }
    }
  }
  const warm = o.warm ? await warmCompletion(engine, o) : undefined;
  const bytesPerToken = engine.kv!.bytesPerToken;
  const table = [
    '| context | policy | ms/token (p50) | p90 | prefill tok/s (to this context; ours: sparse prefill) | settings |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.context} | ${r.policy} | ${r.msPerToken.toFixed(2)} | ${r.p90MsPerToken.toFixed(2)} | ${r.prefillTokensPerSec.toFixed(0)} | ${r.settings} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    ...(o.policies.includes('tokenbutler') ? [`- tokenbutler-i<n>: prediction interval n, a fresh selection with neighbour fetch then n - 1 steps re-reading it; ms/token = (p50 of the fresh steps + (n - 1) × p50 of the re-reading steps) / n`] : []),
    ...(o.policies.includes('tokenbutler') ? [crossover > 0
      ? `- crossover on (the engine's default, crossover.ts): tokenbutler decode steps run dense below ${crossover} cached tokens (${own === undefined ? 'manifest selection.denseBelow' : '--dense-below'}) unless their selection is shown (highlight on, Explain); tokenbutler-sparse is the sparse step forced there`
      : `- crossover off (${own === 0 ? '--dense-below 0' : 'TOKENBUTLER_AUTO_DENSE=0 or no denseBelow in the manifest'}): tokenbutler selects at every context; the model's crossover is ${modelCrossover} cached tokens (manifest selection.denseBelow)`] : []),
    ...Object.entries(ratios).map(([k, v]) => `- ${k}: ${v}x`),
    ...rows.filter((r) => r.freshMs !== undefined).map((r) => `- ${r.policy}@${r.context}: fresh step (selection with neighbour fetch) ${r.freshMs!.toFixed(2)} ms, re-reading step ${r.reusedMs!.toFixed(2)} ms (p50)`),
    `- cache memory: ${bytesPerToken} bytes/token; peak ${(peakBytes / 2 ** 20).toFixed(1)} MiB at ${Math.max(...o.contexts)} tokens`,
    ...Object.entries(breakdowns).map(([T, b]) => `- tokenbutler step at ${T} (ORT profile, ms): ${Object.entries(b).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`),
    ...(warm ? [
      `- cold prefill of the warm-completion context (${warm.contextTokens} tokens): ${(warm.coldPrefillMs / 1000).toFixed(1)} s dense, ${(warm.coldSparsePrefillMs / 1000).toFixed(1)} s sparse (dense up to ${SPARSE_PREFILL_FROM} tokens, then ${SPARSE_PREFILL_CHUNK}-token chunks with budget ${SPARSE_PREFILL_BUDGET})`,
      `- warm completion, typing one character at the cursor: first token p50 ${warm.typing.p50.toFixed(0)} ms, p95 ${warm.typing.p95.toFixed(0)} ms; re-prefilled tokens p50 ${warm.typing.prefilledP50} (max ${warm.typing.prefilledMax})`,
      `- warm completion, one-line edit 20 lines above the cursor, dense prefill: first token p50 ${warm.editAbove.p50.toFixed(0)} ms, p95 ${warm.editAbove.p95.toFixed(0)} ms; re-prefilled tokens p50 ${warm.editAbove.prefilledP50} (max ${warm.editAbove.prefilledMax})`,
      `- warm completion, one-line edit 20 lines above the cursor, sparse prefill: first token p50 ${warm.editAboveSparse.p50.toFixed(0)} ms, p95 ${warm.editAboveSparse.p95.toFixed(0)} ms; re-prefilled tokens p50 ${warm.editAboveSparse.prefilledP50} (max ${warm.editAboveSparse.prefilledMax})`,
    ] : []),
  ].join('\n');
  return { rows, ratios, budget: o.budget, bytesPerToken, peakCacheBytes: peakBytes, breakdowns, warm, peer: notes, table };
}

/** The llama.cpp rows that can run here (1 thread as our ORT session, flash attention on: its best
 *  setting at long context on this CPU), and a note for each: what it is, or why it did not run. */
async function openPeers(modelDir: string, o: BenchOptions, contextSize: number) {
  const peers: { label: string; settings: string; peer: LlamaPeer }[] = [];
  const notes: string[] = [];
  const root = path.resolve(__dirname, '..');
  for (const type of o.peer ?? []) {
    const label = `llama.cpp-${type}`;
    try {
      const peer = await LlamaPeer.open({ root, modelDir, type, threads: 1, flashAttention: true, contextSize, log: o.log });
      peers.push({ label, settings: peer.settings, peer });
      notes.push(`${label}: the same weights as a plain llama GGUF (without ${GGUF_OMITS}), the same token ids, greedy decode (each step one evaluation + sampling); ratios ${label}/P > 1 mean P is faster`);
    } catch (e) {
      notes.push(`${label}: not run: ${(e as Error).message.split('\n')[0]}`);
      o.log(`llama.cpp peer ${type} not run: ${(e as Error).message}`);
    }
  }
  return { peers, notes };
}

/** Where a tokenbutler step's time goes: a profiled copy of the sparse graph run on the engine's
 *  own inputs; kernel time summed per node-name scope (predictor / selection = scoring + top-k /
 *  kv gather = the selected K/V rows / attention / pointer / model, see tbtrain/graph*.py). */
async function breakdown(engine: Engine, token: number, budget: number): Promise<Record<string, number>> {
  const m = engine.loaded!;
  const { sparse, feeds } = engine.feedsFor([token], 'tokenbutler', budget);
  if (!sparse) return {};
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-prof-'));
  const session = await ort.InferenceSession.create(path.join(m.dir, m.manifest.graphs.sparse), {
    ...sessionOptions('cpu'), enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
  });
  const runs = 8;
  try {
    for (let i = 0; i < runs; i++) await session.run(feeds);
    session.endProfiling();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    const out: Record<string, number> = {};
    if (!file) return out;
    type Ev = { cat: string; name: string; dur: number; args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] } };
    for (const e of JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Ev[]) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      if (e.args?.op_name === 'If') continue; // its branch's nodes are profiled (and counted) themselves
      let scope = e.name.includes('/') ? e.name.split('/')[0] : 'model';
      // the selected K/V rows' gathers ([Hkv, K, head_dim]) are the attention's reads, not scoring or top-k
      const shape = Object.values(e.args?.output_type_shape?.[0] ?? {})[0];
      if (scope === 'selection' && e.args?.op_name === 'Gather' && shape?.length === 3 && shape[2] === m.config.head_dim) scope = 'kv gather';
      out[scope] = (out[scope] ?? 0) + e.dur / 1000 / runs;
    }
    return out;
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 16k tokens of real code cached; then type one character at a time on the cursor line and
 *  edit a line above the cursor; each time measure the completion's first-token latency. */
async function warmCompletion(engine: Engine, o: BenchOptions) {
  const texts = sampleTexts();
  const target = 16384;
  const files: ContextPayload['files'] = [];
  let chars = 0;
  const budgetChars = target * 2.6;
  for (const t of texts) {
    if (chars + t.text.length > budgetChars) continue;
    files.push(t);
    chars += t.text.length;
  }
  const current = texts.find((t) => t.file.endsWith('engine.ts')) ?? texts[0] ?? { file: 'a.ts', text: 'const a = 1;\n'.repeat(200) };
  const cut = Math.floor(current.text.length * 0.6);
  let prefix = current.text.slice(0, current.text.lastIndexOf('\n', cut) + 1) + '  const value = ';
  const suffix = current.text.slice(cut);
  const ctx = (): ContextPayload => ({ files, current: { file: current.file, prefix, suffix } });
  // cold prefill both ways (sparse first: the dense one leaves the exact cache for what follows),
  // each from an empty cache of a fresh engine's capacity: the decode rounds before grew it to the
  // largest context, and every graph computes over the whole capacity
  engine.kv!.shrinkTo(0);
  const coldSparse = await engine.complete({ context: ctx(), policy: 'tokenbutler', budget: o.budget, maxNewTokens: 1, prefill: 'sparse' }, hooks);
  engine.kv!.shrinkTo(0);
  const first = await engine.complete({ context: ctx(), policy: 'tokenbutler', budget: o.budget, maxNewTokens: 1, prefill: 'dense' }, hooks);
  o.log(`warm: ${first.contextTokens} context tokens prefilled in ${first.timings.prefillMs.toFixed(0)} ms dense, ${coldSparse.timings.prefillMs.toFixed(0)} ms sparse`);
  type Kind = 'typing' | 'editAbove' | 'editAboveSparse';
  const lat: Record<Kind, number[]> = { typing: [], editAbove: [], editAboveSparse: [] };
  const pre: Record<Kind, number[]> = { typing: [], editAbove: [], editAboveSparse: [] };
  for (let i = 0; i < 32; i++) {
    const kind: Kind = i % 2 === 0 ? 'typing' : i % 4 === 1 ? 'editAbove' : 'editAboveSparse';
    if (i % 2 === 0) prefix += 'abcdefghij'[i % 10]; // typing at the cursor
    else {
      const lines = prefix.split('\n'); // edit a line ~20 lines above the cursor
      const k = Math.max(0, lines.length - 20);
      lines[k] = lines[k] + ' ';
      prefix = lines.join('\n');
    }
    const r = await engine.complete({
      context: ctx(), policy: 'tokenbutler', budget: o.budget, maxNewTokens: 4, prefill: kind === 'editAboveSparse' ? 'sparse' : 'dense',
    }, hooks);
    lat[kind].push(r.timings.firstTokenMs);
    pre[kind].push(r.prefilledTokens);
  }
  const stats = (k: Kind) => ({
    p50: quantile(lat[k], 0.5), p95: quantile(lat[k], 0.95), prefilledP50: quantile(pre[k], 0.5), prefilledMax: Math.max(...pre[k]),
  });
  return {
    contextTokens: first.contextTokens, coldPrefillMs: first.timings.prefillMs, coldSparsePrefillMs: coldSparse.timings.prefillMs,
    typing: stats('typing'), editAbove: stats('editAbove'), editAboveSparse: stats('editAboveSparse'),
  };
}
