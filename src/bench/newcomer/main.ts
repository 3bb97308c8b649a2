// First suggestion in an unseen repository (issue 26 item 5; docs: bench/first-suggestion.md, which
// this writes). A fresh engine child (the extension's own: EngineClient, scheduler, worker) has the
// model loaded and nothing cached; at t0 a file of a held-out package is "opened": its context is
// assembled and, with the warmup on, a `warmup` is sent (EngineConfig.partialContext on) and the
// first completion at once, its worst case (the warmup has no head start and is stopped at once).
// Then the user types the shown suggestion's first line key by key, `--gap-ms` apart, three more
// times; each keystroke goes through the extension's TypingAsSuggested, so the report says which
// ones the extension answers without the engine and what the user waits after the last keystroke.
// Off is the behaviour before the warmup: each completion prefills the full context. A third column
// is the warmup on with the extension's prefetch (engine-client/prefetch.ts): each shown suggestion
// starts a speculative request for the state after it, and a typed line that ends the suggestion
// takes that answer instead of asking. Rounds alternate off/on/prefetch (and `--baseline-child`,
// another build's engine child, for a before/after column in the same run), each on a fresh child;
// the table gives per request the median.
//   node esbuild.mjs && nice -n 5 node out/bench-newcomer.js [--repo DIR] [--file REL] [--rounds N] [--gap-ms MS] [--out PATH]
//     [--baseline-child PATH/dist/engine-child.js --baseline-label TEXT] [--model DIR] (NEWCOMER_VERBOSE=1: every request on stderr)
import { existsSync, readFileSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CompleteResult, ContextPayload, EngineConfig } from '../../shared/protocol';
import { assembleContext } from '../../context';
import { EngineClient, Prefetcher, stateAfter } from '../../engine-client';
import { readDocument } from '../../engine/cli-args';
import { postprocess } from '../../postprocess';
import { TypingAsSuggested } from '../../completion-logic/typing-as-suggested';
import { MIN_DELAY_MS } from '../../completion-logic/debounce';
import { blockLineEnd, extensionDefaults, median, opt, quiet, sleep } from './common';

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const REPO = path.resolve(root, opt('repo', 'training/work/heldout/ws/leaflet-1.9.4'));
const FILE = opt('file', 'src/layer/vector/Polyline.js');
const ROUNDS = Number(opt('rounds', '3'));
const GAP_MS = Number(opt('gap-ms', '1000'));
const OUT = path.resolve(root, opt('out', 'bench/first-suggestion.md'));
const MONITORS = !args.includes('--no-monitors');
/** `--model DIR`: another model folder (e.g. an older one both builds of a before/after run can load) */
const MODEL = path.resolve(root, opt('model', 'models/default'));
const REQUESTS = 4;
/** `--baseline-child PATH`: a third column, warmup on with another build's engine child (e.g. the
 *  commit before a change, built in a worktree), labelled `--baseline-label`: before/after in one run. */
const BASELINE_CHILD = opt('baseline-child', '');
const BASELINE_LABEL = opt('baseline-label', 'baseline');

const config = (warm: boolean): EngineConfig => extensionDefaults(MODEL, MONITORS, warm);

interface Sample {
  ms: number;
  /** request sent → first token chosen (the engine's timings.firstTokenMs; the rest is the decode) */
  firstTokenMs: number;
  contextTokens: number;
  prefilledTokens: number;
  generatedTokens: number;
  /** tokens of the full context (a partial answer's contextPartial.fullContextTokens) */
  fullTokens: number;
  relatedFiles?: number;
  partial?: string;
  /** the suggestion as the ghost text shows it (postprocessed as the extension does) */
  shown: string;
  /** requests 2-4: the keystrokes that typed the previous suggestion's first line, how many of them
   *  the extension answers from the shown suggestion (typing-as-suggested: no engine request) and
   *  the time that lookup took; `engineNeeded`: the last keystroke ends the shown suggestion, so the
   *  extension asks the engine (else this request is the bench's, measured for the engine alone) */
  keystrokes?: { total: number; fromShown: number; lookupMs: number[]; engineNeeded: boolean; suggested: boolean };
  /** prefetch column, a typed line that ends the shown suggestion: its prefetched answer was used
   *  (`hit`; `ms` is then the wait after the last keystroke), failed, or there was none */
  prefetch?: 'hit' | 'failed' | 'none';
}
interface Round {
  requests: Sample[];
  /** t0 → the context assembled (first request) */
  assembleMs: number;
  /** t0 → the warmup answered (on only) */
  warmupDoneMs?: number;
  relatedFiles: number;
  fullTokens: number;
}

const firstLine = (t: string) => t.split('\n').find((l) => l.trim())?.trim() ?? '';

/** The cursor: the end of the first line past the file's middle that opens a block. */
const cursorOf = (text: string) => blockLineEnd(text, 0.5);

async function round(warm: boolean, childPath = path.join(root, 'dist', 'engine-child.js'), prefetch = false): Promise<Round> {
  const doc = readDocument(REPO, FILE);
  const engine = new EngineClient({ childPath, logger: quiet });
  engine.start();
  await engine.configure(config(warm));
  try {
    let at = cursorOf(doc.text);
    let text = doc.text;
    const assemble = async (): Promise<{ payload: ContextPayload; files: number }> => {
      const r = await assembleContext({ workspaceRoot: doc.workspace, currentFile: doc.file, prefix: text.slice(0, at), suffix: text.slice(at), maxContextTokens: 16384 });
      return { payload: r.payload, files: r.payload.files.length };
    };
    const prefetcher = new Prefetcher<CompleteResult, ContextPayload>();
    const ask = async (ts: number, payload: ContextPayload, keystrokes?: Sample['keystrokes'], answer?: CompleteResult): Promise<Sample> => {
      const r: CompleteResult = answer ?? (await engine.complete(payload, 'doc', { multiline: true }, { timeoutMs: 300_000 }));
      const ms = performance.now() - ts;
      const shown = postprocess(r.completion, { prefix: payload.current.prefix, suffix: payload.current.suffix, languageId: 'javascript', multiline: true });
      const p = r.contextPartial;
      if (process.env.NEWCOMER_VERBOSE) process.stderr.write(`  ${warm ? 'on' : 'off'}: ${ms.toFixed(0)} ms ${JSON.stringify({ ...r.timings, gen: r.generatedTokens, pre: r.prefilledTokens, ctx: r.contextTokens, keys: keystrokes && { ...keystrokes, lookupMs: undefined } })} ${JSON.stringify(shown)}\n`);
      return { ms, firstTokenMs: r.timings.firstTokenMs, contextTokens: r.contextTokens, prefilledTokens: r.prefilledTokens, generatedTokens: r.generatedTokens, fullTokens: p?.fullContextTokens ?? r.contextTokens, shown, ...(p ? { relatedFiles: p.relatedFiles } : {}), ...(p ? { partial: `${p.placedFiles}/${p.relatedFiles}` } : {}), ...(keystrokes ? { keystrokes } : {}) };
    };
    const t0 = performance.now();
    const first = await assemble();
    const assembleMs = performance.now() - t0;
    let warmupDoneMs: number | undefined;
    if (warm) {
      engine.warmup(first.payload).then(
        () => (warmupDoneMs = performance.now() - t0),
        (e: Error) => quiet.warn(`warmup: ${e.message}`),
      );
    }
    // as the provider does: a shown suggestion prefetches the completion at its end
    const startPrefetch = (payload: ContextPayload, shown: string) => {
      if (!prefetch || !shown) return;
      const next = stateAfter('doc', text, at, shown, payload);
      const sent = performance.now();
      prefetcher.start(next.state, next.payload, (token) =>
        engine.complete(next.payload, 'doc', { multiline: true, speculative: true }, { token, timeoutMs: 300_000 }).then((r) => {
          if (process.env.NEWCOMER_VERBOSE) process.stderr.write(`  prefetch answered ${(performance.now() - sent).toFixed(0)} ms after it was sent\n`);
          return r;
        }),
      );
    };
    const requests: Sample[] = [await ask(t0, first.payload)];
    startPrefetch(first.payload, requests[0].shown);
    for (let i = 1; i < REQUESTS; i++) {
      await sleep(GAP_MS);
      // the user types the shown suggestion's first line (or, when nothing was shown, the file's next
      // characters) key by key; the extension answers each keystroke it can from the shown suggestion
      const shown = requests[i - 1].shown;
      const typed = shown ? shown.split('\n')[0] || shown : text.slice(at, at + 12);
      const typing = new TypingAsSuggested();
      typing.remember({ documentKey: 'doc', offset: at, textBefore: text.slice(0, at), completion: shown });
      const keys = { total: typed.length, fromShown: 0, lookupMs: [] as number[], engineNeeded: true, suggested: !!shown };
      for (const ch of typed) {
        text = text.slice(0, at) + ch + text.slice(at);
        at += ch.length;
        const tk = performance.now();
        const rest = typing.lookup('doc', at, text.slice(0, at));
        if (rest) typing.remember({ documentKey: 'doc', offset: at, textBefore: text.slice(0, at), completion: rest });
        keys.lookupMs.push(performance.now() - tk);
        if (rest) keys.fromShown++;
        if (rest) engine.typing(); // as the provider does: the warmup waits while the user types
        keys.engineNeeded = !rest;
      }
      const ts = performance.now();
      const taken = keys.engineNeeded ? prefetcher.take('doc', at, () => text) : undefined;
      const answer = taken && (await taken.result);
      if (taken) engine.typing();
      if (!taken) prefetcher.discard();
      const payload = answer ? taken.data : (await assemble()).payload;
      const sample = await ask(ts, payload, keys, answer || undefined);
      if (prefetch && keys.engineNeeded && keys.suggested) sample.prefetch = answer ? 'hit' : taken ? 'failed' : 'none';
      requests.push(sample);
      startPrefetch(payload, sample.shown);
    }
    prefetcher.discard();
    await sleep(GAP_MS);
    if (warm) for (let i = 0; i < 600 && warmupDoneMs === undefined; i++) await sleep(100);
    // one more after the warmup has finished (on) or after the same pause (off): the full context
    requests.push(await ask(performance.now(), (await assemble()).payload));
    const fullTokens = Math.max(...requests.map((r) => r.fullTokens));
    return { requests, assembleMs, warmupDoneMs, relatedFiles: first.files, fullTokens };
  } finally {
    await engine.shutdown();
  }
}

async function main(): Promise<void> {
  const off: Round[] = [];
  const on: Round[] = [];
  const pf: Round[] = [];
  const base: Round[] = [];
  const started = new Date();
  const load = os.loadavg()[0];
  const note = (name: string, r: Round) =>
    process.stderr.write(`round ${name}: ${r.requests.map((s) => s.ms.toFixed(0)).join(', ')} ms${r.warmupDoneMs ? ` (warmup done at ${r.warmupDoneMs.toFixed(0)} ms)` : ''}\n`);
  for (let i = 0; i < ROUNDS; i++) {
    off.push(await round(false));
    note(`${i + 1} off`, off.at(-1)!);
    on.push(await round(true));
    note(`${i + 1} on`, on.at(-1)!);
    pf.push(await round(true, undefined, true));
    note(`${i + 1} on + prefetch`, pf.at(-1)!);
    if (BASELINE_CHILD) {
      base.push(await round(true, path.resolve(BASELINE_CHILD)));
      note(`${i + 1} ${BASELINE_LABEL}`, base.at(-1)!);
    }
  }
  const columns: [string, Round[]][] = [['warmup off', off], ['warmup on', on], ['warmup on + prefetch', pf], ...(BASELINE_CHILD ? [[`warmup on, ${BASELINE_LABEL}`, base] as [string, Round[]]] : [])];
  const med = (rs: Round[], f: (s: Sample) => number, i: number) => median(rs.map((r) => f(r.requests[i])));
  const cell = (rs: Round[], i: number) => {
    const partials = rs.map((r) => r.requests[i].partial).filter(Boolean);
    const ctx = `${med(rs, (s) => s.contextTokens, i).toFixed(0)} ctx / ${med(rs, (s) => s.prefilledTokens, i).toFixed(0)} prefilled, ${med(rs, (s) => s.generatedTokens, i).toFixed(0)} generated`;
    const where = partials.length ? `partial in ${partials.length}/${rs.length} rounds: ${partials.join(' ')} related files` : 'full context';
    const keys = rs.map((r) => r.requests[i].keystrokes).filter((k): k is NonNullable<Sample['keystrokes']> => !!k);
    const ext = keys.length
      ? `; the extension answered ${keys.map((k) => `${k.fromShown}/${k.total}`).join(' ')} keystrokes from the shown suggestion and asks the engine after the last in ${keys.filter((k) => k.engineNeeded).length}/${keys.length} rounds`
      : '';
    const hits = rs.filter((r) => r.requests[i].prefetch === 'hit').length;
    const pre = hits ? `; the prefetched answer in ${hits}/${rs.length} rounds (then the time is the wait for it after the last keystroke, the rest the prefetch's own numbers)` : '';
    return `${med(rs, (s) => s.ms, i).toFixed(0)} ms (first token ${med(rs, (s) => s.firstTokenMs, i).toFixed(0)} ms; ${ctx}, ${where}${ext}${pre})`;
  };
  const label = (i: number) =>
    i === 0 ? 'first suggestion (from opening the file)' : i < REQUESTS ? `request ${i + 1} (typing what was suggested)` : 'after the warmup finished (on; off: the same pause)';
  const rows = Array.from({ length: REQUESTS + 1 }, (_, i) => `| ${label(i)} | ${columns.map(([, rs]) => cell(rs, i)).join(' | ')} |`);
  const firstMs = (rs: Round[]) => median(rs.map((r) => r.requests[0].ms));
  const ratio = firstMs(off) / firstMs(on);
  // after the last keystroke of each typed line, as the extension answers it: from the shown
  // suggestion when it goes on (the lookup's time), else the engine request's time
  const typedLines = (rs: Round[], suggested = false) => rs.flatMap((r) => r.requests.slice(1, REQUESTS)).filter((s) => !suggested || s.keystrokes!.suggested);
  const afterLastKey = (rs: Round[], suggested = false) =>
    typedLines(rs, suggested).map((s) => (s.keystrokes!.engineNeeded ? s.ms : s.keystrokes!.lookupMs.at(-1) ?? 0));
  // the same with the extension's debounce: at least MIN_DELAY_MS before an engine request (a
  // prefetched answer and the shown suggestion's lookup skip it)
  const withDebounce = (rs: Round[], suggested = false) =>
    typedLines(rs, suggested).map((s) => (!s.keystrokes!.engineNeeded ? s.keystrokes!.lookupMs.at(-1) ?? 0 : s.prefetch === 'hit' ? s.ms : s.ms + MIN_DELAY_MS));
  const engineOnly = (rs: Round[]) => rs.flatMap((r) => r.requests.slice(1, REQUESTS).map((s) => s.ms));
  const prefetched = (rs: Round[]) => {
    const ended = rs.flatMap((r) => r.requests.slice(1, REQUESTS)).filter((s) => s.prefetch);
    const hits = ended.filter((s) => s.prefetch === 'hit');
    return ended.length
      ? `; prefetch hit in ${hits.length} of ${ended.length} typed lines that ended a shown suggestion (failed ${ended.filter((s) => s.prefetch === 'failed').length}, none held ${ended.filter((s) => s.prefetch === 'none').length}), hits p50 ${median(hits.map((s) => s.ms)).toFixed(1)} ms`
      : '';
  };
  const asked = (rs: Round[]) => rs.flatMap((r) => r.requests.slice(1, REQUESTS)).filter((s) => s.keystrokes!.engineNeeded).length;
  const allKeys = (rs: Round[]) => rs.flatMap((r) => r.requests.slice(1, REQUESTS).flatMap((s) => s.keystrokes!.lookupMs));
  const same = (rs: Round[]) => rs.filter((r, i) => firstLine(r.requests[0].shown) === firstLine(off[i].requests[0].shown)).length;
  const firstLines = (rs: Round[]) => rs.map((r) => JSON.stringify(firstLine(r.requests[0].shown))).join(', ');
  const later = (rs: Round[]) =>
    `${median(afterLastKey(rs)).toFixed(1)} ms, with the extension's minimum debounce ${median(withDebounce(rs)).toFixed(1)} ms (an answer needed after ${asked(rs)} of ${rs.length * (REQUESTS - 1)} typed lines${prefetched(rs)}; request alone p50 ${median(engineOnly(rs)).toFixed(0)} ms; ` +
    `typing a shown suggestion only, ${typedLines(rs, true).length} lines: ${median(afterLastKey(rs, true)).toFixed(1)} ms, with the debounce ${median(withDebounce(rs, true)).toFixed(1)} ms)`;
  const md = [
    '# First suggestion in an unseen repository',
    '',
    `Run ${started.toISOString()} on ${os.cpus().length}× ${os.cpus()[0]?.model.trim()} (load average at start ${load.toFixed(1)}), model \`${path.relative(root, MODEL)}\`, ` +
      `command \`node esbuild.mjs && nice -n 5 node out/bench-newcomer.js --rounds ${ROUNDS} --gap-ms ${GAP_MS}${MONITORS ? '' : ' --no-monitors'}${MODEL === path.resolve(root, 'models/default') ? '' : ` --model ${MODEL}`}${BASELINE_CHILD ? ` --baseline-child ${BASELINE_CHILD} --baseline-label '${BASELINE_LABEL}'` : ''}\` (src/bench/newcomer/main.ts).`,
    '',
    `Repository \`${path.relative(root, REPO)}\` (held out from training), file \`${FILE}\`, cursor at the end of the first line past the middle that opens a block. ` +
      `${off[0].relatedFiles} related files assembled, ${off[0].fullTokens} tokens with the current file as the engine lays them out (a cold quick answer counts the assembled files: x/${off[0].relatedFiles}) ` +
      `(extension defaults: tokenbutler, budget 512, 16k context, sparse prefill, monitors ${MONITORS ? 'on' : 'off'}).`,
    `Each round starts a fresh engine child (the extension's EngineClient, scheduler and worker; model loaded, nothing cached), opens the file at t0 and asks for a completion at once; ` +
      `then, ${GAP_MS} ms later, the shown suggestion's first line is typed key by key and the next completion asked. **off**: no warmup, every completion on the full context (before issue 26 item 5). ` +
      '**on**: the focus warmup is sent at t0 together with the first completion (no head start: the completion stops it), and completions whose related files are not cached yet ' +
      'answer from a window of the current file alone, in a cache of its own (`partialContext`, src/engine/quick-context.ts: more than QUICK_PREFILL_TOKENS = 1024 uncached context tokens; ' +
      'the window is the last ~QUICK_PREFIX_TOKENS = 640 prefix tokens from a line start, kept while typing, and QUICK_SUFFIX_TOKENS = 64 of the suffix; the quick answer ends at its first line); ' +
      'the stopped warmup resumes once requests pause for WARMUP_IDLE_MS = 1500 and leaves the cache room for the typing after it (WARMUP_TYPING_ROOM = 256). ' +
      '**on + prefetch**: as on, and each shown suggestion starts a speculative request (src/engine-client/prefetch.ts; after every other request, stopped by any) for the document with the whole suggestion typed; ' +
      'a typed line that ends the suggestion takes that answer when the document is exactly in its state, without the debounce, else asks as usual. Rounds alternate off/on/on + prefetch; medians over ' +
      `${ROUNDS} rounds. Times run from opening the file (first row: assembling the context included, ${median(on.map((r) => r.assembleMs)).toFixed(0)} ms median) or from the request to the whole suggestion ` +
      '(up to 64 tokens; the ghost text shows it whole when it arrives), without the extension\'s debounce (100-1000 ms, adaptive) or drawing; *first token* is the engine\'s time to the first generated token (prefill included). ' +
      'The suggestion is postprocessed as the extension does; typing it goes through the extension\'s TypingAsSuggested, which answers a keystroke that goes on typing the shown suggestion without the engine; ' +
      'such keystrokes and prefetched answers send the engine a `typing` message, as the provider does, so a stopped warmup waits for a pause in the typing too.',
    '',
    `| request | ${columns.map(([name]) => name).join(' | ')} |`,
    `|---|${columns.map(() => '---|').join('')}`,
    ...rows,
    '',
    `First suggestion: ${ratio.toFixed(1)}x sooner with the warmup on (on + prefetch: ${firstMs(pf).toFixed(0)} ms against on ${firstMs(on).toFixed(0)} ms; the prefetch starts after it)${BASELINE_CHILD ? ` (${BASELINE_LABEL}: ${(firstMs(off) / firstMs(base)).toFixed(1)}x; this build ${(firstMs(base) / firstMs(on)).toFixed(2)}x sooner than ${BASELINE_LABEL})` : ''}. The warmup (full context cached) finished ${median(on.map((r) => r.warmupDoneMs ?? NaN)).toFixed(0)} ms after opening (median). ` +
      `First lines of the first suggestion (off: the full context): ${columns.map(([name, rs]) => `${name} ${firstLines(rs)}${rs === off ? '' : ` (same as off in ${same(rs)}/${rs.length})`}`).join('; ')}.`,
    '',
    `After the last keystroke of each typed line (requests 2-${REQUESTS}), as the extension answers it (the shown suggestion's lookup when it goes on, else the engine request with assembling), p50: ` +
      `${columns.map(([name, rs]) => `${name} ${later(rs)}`).join('; ')}. Every keystroke typed through a suggestion: lookup p50 ${median(allKeys(on)).toFixed(3)} ms, max ${Math.max(...allKeys(on)).toFixed(3)} ms (on).`,
    '',
  ].join('\n');
  // the sections after the run's own (## headings: the UI half, earlier comparisons, notes) are kept
  const previous = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  const kept = previous.indexOf('\n## ');
  writeFileSync(OUT, kept >= 0 ? `${md}\n${previous.slice(kept + 1)}` : md);
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-newcomer: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
