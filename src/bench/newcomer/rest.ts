// The first suggestion after the cursor comes to rest (issue 26 item 5; writes bench/cursor-rest.md).
// A fresh engine child (the extension's own: EngineClient, scheduler, worker; the extension's
// default settings) per round, in the newcomer bench's held-out repository:
// - cold: the file is opened at t0 with the cursor at its start (Quick Open), and the focus warmup
//   is sent; `--open-ms` later the cursor moves to a line in the middle (Go to Line); `--rest-ms`
//   after that the user presses Enter and types `this.`, and the completion is asked.
// - jump: once the warmup has read the whole context, the cursor jumps to another line (a quarter
//   into the file); `--rest-ms` later the same typing and completion.
// With the cursor warmup **on**, a cursor move sends a warmup at the new cursor after
// FOCUS_WARMUP_DEBOUNCE_MS, as src/extension/focus-warmup.ts does; **off** sends none (the
// extension before it). Rounds alternate off/on; the times run from the request (the last
// keystroke, which is sent to the engine as `typing` MIN_DELAY_MS before, as the extension's
// shortest debounce; that debounce and drawing not counted) to the whole suggestion.
//   node esbuild.mjs && nice -n 5 node out/bench-rest.js [--rounds N] [--open-ms MS] [--rest-ms MS] [--out PATH]
import { writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CompleteResult, ContextPayload } from '../../shared/protocol';
import { assembleContext } from '../../context';
import { EngineClient } from '../../engine-client';
import { readDocument } from '../../engine/cli-args';
import { FOCUS_WARMUP_DEBOUNCE_MS, MIN_DELAY_MS } from '../../completion-logic/debounce';
import { blockLineEnd, extensionDefaults, median, opt, quiet, sleep } from './common';

const root = path.resolve(__dirname, '..');
const REPO = path.resolve(root, opt('repo', 'training/work/heldout/ws/leaflet-1.9.4'));
const FILE = opt('file', 'src/layer/vector/Polyline.js');
const ROUNDS = Number(opt('rounds', '3'));
const OPEN_MS = Number(opt('open-ms', '1000'));
const REST_MS = Number(opt('rest-ms', '2000'));
const OUT = path.resolve(root, opt('out', 'bench/cursor-rest.md'));
const TYPED = '\n\t\tthis.';

const config = extensionDefaults(path.join(root, 'models/default'), true, true);

interface Sample {
  ms: number;
  firstTokenMs: number;
  contextTokens: number;
  prefilledTokens: number;
  partial: boolean;
  shown: string;
}


async function round(cursorWarmup: boolean): Promise<{ cold: Sample; jump: Sample; warmupDoneMs: number }> {
  const doc = readDocument(REPO, FILE);
  const engine = new EngineClient({ childPath: path.join(root, 'dist', 'engine-child.js'), logger: quiet });
  engine.start();
  await engine.configure(config);
  const assemble = async (text: string, at: number): Promise<ContextPayload> =>
    (await assembleContext({ workspaceRoot: doc.workspace, currentFile: doc.file, prefix: text.slice(0, at), suffix: text.slice(at), maxContextTokens: 16384 })).payload;
  // the latest warmup's end: a newer one replaces it (answered cancelled), so the last one sent tells when the context is read
  let warmupDone: number | undefined;
  let latest = 0;
  const warm = (payload: ContextPayload) => {
    const mine = ++latest;
    engine.warmup(payload).then(
      () => mine === latest && (warmupDone = performance.now()),
      () => undefined,
    );
  };
  const ask = async (text: string, at: number): Promise<Sample> => {
    const payload = await assemble(text, at);
    const t = performance.now();
    const r: CompleteResult = await engine.complete(payload, 'doc', { multiline: true }, { timeoutMs: 300_000 });
    return { ms: performance.now() - t, firstTokenMs: r.timings.firstTokenMs, contextTokens: r.contextTokens, prefilledTokens: r.prefilledTokens, partial: !!r.contextPartial, shown: r.completion.split('\n').find((l) => l.trim())?.trim() ?? '' };
  };
  /** The cursor moves to `at` and rests REST_MS; then Enter and `this.` are typed and a completion asked. */
  const restThenType = async (at: number): Promise<Sample> => {
    const moved = performance.now();
    if (cursorWarmup) {
      await sleep(FOCUS_WARMUP_DEBOUNCE_MS);
      warm(await assemble(doc.text, at));
    }
    await sleep(Math.max(0, REST_MS - (performance.now() - moved)));
    // as the provider does: the first keystroke tells the engine at once, the request follows the debounce
    engine.typing();
    await sleep(MIN_DELAY_MS);
    const text = doc.text.slice(0, at) + TYPED + doc.text.slice(at);
    return ask(text, at + TYPED.length);
  };
  try {
    const t0 = performance.now();
    warm(await assemble(doc.text, 0)); // the focus warmup, the cursor at the file's start
    await sleep(OPEN_MS);
    const cold = await restThenType(blockLineEnd(doc.text, 0.5));
    // the user's next keystrokes go on elsewhere: the warmup resumes (it reads the context at the cursor it was last sent)
    for (let i = 0; i < 1200 && warmupDone === undefined; i++) await sleep(100);
    const warmupDoneMs = (warmupDone ?? NaN) - t0;
    const jump = await restThenType(blockLineEnd(doc.text, 0.25));
    return { cold, jump, warmupDoneMs };
  } finally {
    await engine.shutdown();
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const load = os.loadavg()[0];
  const runs: Record<'off' | 'on', Awaited<ReturnType<typeof round>>[]> = { off: [], on: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of ['off', 'on'] as const) {
      const r = await round(mode === 'on');
      runs[mode].push(r);
      process.stderr.write(`round ${i + 1} cursor warmup ${mode}: cold ${r.cold.ms.toFixed(0)} ms (${r.cold.prefilledTokens} prefilled), jump ${r.jump.ms.toFixed(0)} ms (${r.jump.prefilledTokens} prefilled)\n`);
    }
  }
  const cell = (rs: Sample[]) => {
    const m = (f: (s: Sample) => number) => median(rs.map(f)).toFixed(0);
    return `${m((s) => s.ms)} ms (${rs.map((s) => s.ms.toFixed(0)).join(', ')}; first token ${m((s) => s.firstTokenMs)} ms; ${m((s) => s.contextTokens)} ctx / ${m((s) => s.prefilledTokens)} prefilled; ${rs.filter((s) => s.partial).length}/${rs.length} partial)`;
  };
  const row = (label: string, k: 'cold' | 'jump') => `| ${label} | ${cell(runs.off.map((r) => r[k]))} | ${cell(runs.on.map((r) => r[k]))} |`;
  const ratio = (k: 'cold' | 'jump') => median(runs.off.map((r) => r[k].ms)) / median(runs.on.map((r) => r[k].ms));
  const shown = (k: 'cold' | 'jump') => (['off', 'on'] as const).map((m) => `${m}: ${runs[m].map((r) => JSON.stringify(r[k].shown)).join(', ')}`).join('; ');
  const lines = [
    '# The first suggestion after the cursor comes to rest',
    '',
    `Run ${started.toISOString()} on ${os.cpus().length}x ${os.cpus()[0]?.model.trim() ?? 'CPU'} (load average at start ${load.toFixed(1)}), command \`node esbuild.mjs && nice -n 5 node out/bench-rest.js --rounds ${ROUNDS} --open-ms ${OPEN_MS} --rest-ms ${REST_MS}\` (src/bench/newcomer/rest.ts).`,
    '',
    `Repository \`${path.relative(root, REPO)}\` (held out from training), file \`${FILE}\`, the extension's default settings (tokenbutler, budget 512, 16k context, sparse prefill, monitors on, partialContext on). Each round is a fresh engine child (the extension's EngineClient, scheduler and worker). **cold**: the file is opened with the cursor at its start and the focus warmup is sent; ${OPEN_MS} ms later the cursor goes to the end of the first line past the middle that opens a block; ${REST_MS} ms after that, Enter and \`this.\` are typed and the completion asked. **jump**: after the warmup has read the whole context, the cursor jumps to the first such line a quarter into the file; ${REST_MS} ms later the same typing. **cursor warmup on**: a cursor move sends a warmup at the new cursor after ${FOCUS_WARMUP_DEBOUNCE_MS} ms (src/extension/focus-warmup.ts); **off**: none (the extension before it; the engine is the same). The first keystroke is sent as \`typing\` ${MIN_DELAY_MS} ms before the request (the extension's shortest debounce). Times from the request to the whole suggestion (the debounce and drawing not counted), median (every round), over ${ROUNDS} rounds per column.`,
    '',
    '| moment | cursor warmup off | cursor warmup on |',
    '|---|---|---|',
    row('cold: first suggestion, the repository context not read yet', 'cold'),
    row('jump: first suggestion after a jump, the context read', 'jump'),
    '',
    `Off / on: cold ${ratio('cold').toFixed(2)}x, jump ${ratio('jump').toFixed(2)}x. The warmup had read the whole context ${median(runs.on.map((r) => r.warmupDoneMs)).toFixed(0)} ms (on) and ${median(runs.off.map((r) => r.warmupDoneMs)).toFixed(0)} ms (off) after opening (median). First lines shown, cold: ${shown('cold')}; jump: ${shown('jump')}.`,
    '',
  ];
  writeFileSync(OUT, lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

// the engine children and their worker threads would keep the process alive
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.stack ?? e.message : String(e));
    process.exit(1);
  },
);
