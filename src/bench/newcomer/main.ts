// First suggestion in an unseen repository (issue 26 item 5; docs: bench/first-suggestion.md, which
// this writes). A fresh engine child (the extension's own: EngineClient, scheduler, worker) has the
// model loaded and nothing cached; at t0 a file of a held-out package is "opened": its context is
// assembled and, with the warmup on, a `warmup` is sent (EngineConfig.partialContext on) and the
// first completion at once, its worst case (the warmup has no head start and is stopped at its
// first chunk). Then the user types what was suggested, `--gap-ms` apart, three more times. Off is
// the behaviour before: no warmup, each completion prefills the full context. Rounds alternate
// off/on, each on a fresh child, and the table gives per request the median over rounds.
//   node esbuild.mjs && nice -n 5 node out/bench-newcomer.js [--repo DIR] [--file REL] [--rounds N] [--gap-ms MS] [--out PATH]
import { writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CompleteResult, ContextPayload, EngineConfig } from '../../shared/protocol';
import { assembleContext } from '../../context';
import { EngineClient } from '../../engine-client';
import { readDocument } from '../../engine/cli-args';

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const REPO = path.resolve(root, opt('repo', 'training/work/heldout/ws/leaflet-1.9.4'));
const FILE = opt('file', 'src/layer/vector/Polyline.js');
const ROUNDS = Number(opt('rounds', '3'));
const GAP_MS = Number(opt('gap-ms', '1000'));
const OUT = path.resolve(root, opt('out', 'bench/first-suggestion.md'));
const MONITORS = !args.includes('--no-monitors');
const REQUESTS = 4;

/** The extension's default settings (settings.ts). */
const config = (warm: boolean): EngineConfig => ({
  modelDir: path.join(root, 'models', 'default'),
  executionProvider: 'cpu',
  policy: 'tokenbutler',
  budget: 512,
  maxContextTokens: 16384,
  maxNewTokens: 64,
  prefill: 'sparse',
  predictionInterval: 1,
  monitors: MONITORS,
  partialContext: warm,
});

interface Sample {
  ms: number;
  /** request sent → first token chosen (the engine's timings.firstTokenMs; the rest is the decode) */
  firstTokenMs: number;
  contextTokens: number;
  prefilledTokens: number;
  partial?: string;
}
interface Round {
  requests: Sample[];
  /** t0 → the warmup answered (on only) */
  warmupDoneMs?: number;
  relatedFiles: number;
  fullTokens: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = { info: () => undefined, warn: (m: string) => process.stderr.write(`[warn] ${m}\n`), error: (m: string) => process.stderr.write(`[error] ${m}\n`) };

/** The cursor: the end of the first line past the file's middle that opens a block (`{` at its end). */
function cursorOf(text: string): number {
  let at = text.indexOf('\n', Math.floor(text.length / 2));
  while (at >= 0) {
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    if (/\{\s*$/.test(text.slice(lineStart, at))) return at;
    at = text.indexOf('\n', at + 1);
  }
  return Math.floor(text.length / 2);
}

async function round(warm: boolean): Promise<Round> {
  const doc = readDocument(REPO, FILE);
  const engine = new EngineClient({ childPath: path.join(root, 'dist', 'engine-child.js'), logger: quiet });
  engine.start();
  await engine.configure(config(warm));
  try {
    let at = cursorOf(doc.text);
    let text = doc.text;
    const assemble = async (): Promise<{ payload: ContextPayload; files: number }> => {
      const r = await assembleContext({ workspaceRoot: doc.workspace, currentFile: doc.file, prefix: text.slice(0, at), suffix: text.slice(at), maxContextTokens: 16384 });
      return { payload: r.payload, files: r.payload.files.length };
    };
    const t0 = performance.now();
    const first = await assemble();
    let warmupDoneMs: number | undefined;
    if (warm) {
      engine.warmup(first.payload).then(
        () => (warmupDoneMs = performance.now() - t0),
        (e: Error) => quiet.warn(`warmup: ${e.message}`),
      );
    }
    const requests: Sample[] = [];
    let fullTokens = 0;
    let relatedFiles = first.files;
    for (let i = 0; i < REQUESTS; i++) {
      const ts = i === 0 ? t0 : performance.now();
      const { payload } = i === 0 ? first : await assemble();
      const r: CompleteResult = await engine.complete(payload, 'doc', { multiline: true }, { timeoutMs: 300_000 });
      const ms = performance.now() - ts;
      if (process.env.NEWCOMER_VERBOSE) process.stderr.write(`  ${warm ? 'on' : 'off'} #${i + 1}: ${ms.toFixed(0)} ms ${JSON.stringify({ ...r.timings, gen: r.generatedTokens, pre: r.prefilledTokens, ctx: r.contextTokens })}\n`);
      const p = r.contextPartial;
      fullTokens = Math.max(fullTokens, p?.fullContextTokens ?? r.contextTokens);
      if (p) relatedFiles = p.relatedFiles;
      requests.push({ ms, firstTokenMs: r.timings.firstTokenMs, contextTokens: r.contextTokens, prefilledTokens: r.prefilledTokens, ...(p ? { partial: `${p.placedFiles}/${p.relatedFiles}` } : {}) });
      // the user types what was suggested (or, when nothing was, the file's next characters)
      const typed = r.completion.split('\n')[0] || r.completion || text.slice(at, at + 12);
      text = text.slice(0, at) + typed + text.slice(at);
      at += typed.length;
      await sleep(GAP_MS);
    }
    if (warm) for (let i = 0; i < 600 && warmupDoneMs === undefined; i++) await sleep(100);
    // one more after the warmup has finished (on) or after the same pause (off): the full context
    const ts = performance.now();
    const last = await engine.complete((await assemble()).payload, 'doc', { multiline: true }, { timeoutMs: 300_000 });
    requests.push({ ms: performance.now() - ts, firstTokenMs: last.timings.firstTokenMs, contextTokens: last.contextTokens, prefilledTokens: last.prefilledTokens, ...(last.contextPartial ? { partial: `${last.contextPartial.placedFiles}/${last.contextPartial.relatedFiles}` } : {}) });
    return { requests, warmupDoneMs, relatedFiles, fullTokens };
  } finally {
    await engine.shutdown();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

async function main(): Promise<void> {
  const off: Round[] = [];
  const on: Round[] = [];
  const started = new Date();
  const load = os.loadavg()[0];
  for (let i = 0; i < ROUNDS; i++) {
    off.push(await round(false));
    process.stderr.write(`round ${i + 1} off: ${off.at(-1)!.requests.map((s) => s.ms.toFixed(0)).join(', ')} ms\n`);
    on.push(await round(true));
    process.stderr.write(`round ${i + 1} on: ${on.at(-1)!.requests.map((s) => s.ms.toFixed(0)).join(', ')} ms (warmup done at ${on.at(-1)!.warmupDoneMs?.toFixed(0)} ms)\n`);
  }
  const cell = (rs: Round[], i: number) => {
    const ms = median(rs.map((r) => r.requests[i].ms));
    const s = rs[0].requests[i];
    const partials = rs.map((r) => r.requests[i].partial).filter(Boolean);
    const ctx = `${median(rs.map((r) => r.requests[i].contextTokens)).toFixed(0)} ctx / ${median(rs.map((r) => r.requests[i].prefilledTokens)).toFixed(0)} prefilled`;
    const ft = median(rs.map((r) => r.requests[i].firstTokenMs));
    return `${ms.toFixed(0)} ms (first token ${ft.toFixed(0)} ms; ${ctx}${partials.length ? `, partial in ${partials.length}/${rs.length} rounds: ${partials.join(' ')} related files` : s ? ', full context' : ''})`;
  };
  const label = (i: number) =>
    i === 0 ? 'first suggestion (from opening the file)' : i < REQUESTS ? `request ${i + 1} (typing what was suggested)` : 'after the warmup finished (on; off: the same pause)';
  const rows = Array.from({ length: REQUESTS + 1 }, (_, i) => `| ${label(i)} | ${cell(off, i)} | ${cell(on, i)} |`);
  const ratio = median(off.map((r) => r.requests[0].ms)) / median(on.map((r) => r.requests[0].ms));
  const md = [
    '# First suggestion in an unseen repository',
    '',
    `Run ${started.toISOString()} on ${os.cpus().length}× ${os.cpus()[0]?.model.trim()} (load average at start ${load.toFixed(1)}), model \`models/default\`, ` +
      `command \`node esbuild.mjs && nice -n 5 node out/bench-newcomer.js --rounds ${ROUNDS} --gap-ms ${GAP_MS}${MONITORS ? '' : ' --no-monitors'}\` (src/bench/newcomer/main.ts).`,
    '',
    `Repository \`${path.relative(root, REPO)}\` (held out from training), file \`${FILE}\`, cursor at the end of the first line past the middle that opens a block. ` +
      `The engine places ${on[0].relatedFiles} related files of those assembled, ${off[0].fullTokens} tokens with the current file ` +
      `(extension defaults: tokenbutler, budget 512, 16k context, sparse prefill, monitors ${MONITORS ? 'on' : 'off'}).`,
    `Each round starts a fresh engine child (the extension's EngineClient, scheduler and worker; model loaded, nothing cached), opens the file at t0 and asks for a completion at once; ` +
      `then the suggestion's first line is typed and the next completion asked, ${GAP_MS} ms apart. **off**: no warmup, every completion on the full context (before issue 26 item 5). ` +
      '**on**: the focus warmup is sent at t0 together with the first completion (no head start: the completion stops it at its first chunk), and completions whose related files are not cached yet ' +
      'answer from the cached ones plus the current file (`partialContext`, QUICK_PREFILL_TOKENS = 1024); the stopped warmup resumes once requests pause for WARMUP_IDLE_MS = 1500. Rounds alternate off/on; medians over ' +
      `${ROUNDS} rounds. Times run from opening the file (first row: assembling the context included) or from the request to the whole suggestion ` +
      '(up to 64 tokens, as the ghost text shows it); *first token* is the engine\'s time to the first generated token (prefill included).',
    '',
    '| request | warmup off | warmup on |',
    '|---|---|---|',
    ...rows,
    '',
    `First suggestion: ${ratio.toFixed(1)}x sooner with the warmup on. The warmup (full context cached) finished ${median(on.map((r) => r.warmupDoneMs ?? NaN)).toFixed(0)} ms after opening (median).`,
    '',
  ].join('\n');
  writeFileSync(OUT, md);
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-newcomer: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
