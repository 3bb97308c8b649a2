// The first suggestion in an unseen repository, measured in real VS Code (code-server + headless
// Chromium, the packaged extension or EXT_DEV=1 for the built repo): issue 26 item 5's UI half of
// bench/first-suggestion.md. Not a test (npm test does not run it): a benchmark that prints what it
// measured. Each round starts a fresh code-server (empty state: nothing cached), opens the
// repository, waits until the status bar says the engine is ready, then opens the file with Quick
// Open (t0), goes to the end of the first line past the middle that opens a block, presses Enter,
// types `this.` (`--type`) and waits for ghost text; then three times types the shown suggestion's
// first line key by key, presses Enter and waits for the next ghost text. The times are what a user sees: debounce, context
// assembly, the engine, drawing.
// `--rest-ms N`: the cursor rests N ms at that line end before Enter (a user reading; the extension
// warms the context at a cursor that came to rest), 0 by default (Enter at once).
//   node esbuild.mjs && npm run package && node test/e2e/ui-newcomer.mjs [--repo DIR] [--file REL] [--rounds N] [--accept type|tab] [--suggest off|default] [--rest-ms N] [--out PATH]
// Env as test/e2e/ui-run.mjs (VSIX, EXT_DEV=1, CODE_SERVER / NODE24_BIN / CHROMIUM).
/* global document, window */ // page functions run in the browser
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cs from './code-server.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const REPO = path.resolve(cs.ROOT, opt('repo', 'training/work/heldout/ws/leaflet-1.9.4'));
const FILE = opt('file', 'src/layer/vector/Polyline.js');
const ROUNDS = Number(opt('rounds', '2'));
const OUT = opt('out', '');
const NEXT = 3;
const FIRST_TYPED = opt('type', 'this.');
/** How a shown suggestion is taken before Enter: `type` (its first line key by key) or `tab` (accepted whole). */
const ACCEPT = opt('accept', 'type');
/** `off` (the UI tests' settings: no suggest widget while typing) or `default` (VS Code's: the widget
 *  opens after `.`; the ghost text then follows its selected entry, and only the first suggestion is timed). */
const SUGGEST = opt('suggest', 'off');
const REST_MS = Number(opt('rest-ms', '0'));
const KEY_DELAY_MS = 30; // a fast typist
const GHOST_TIMEOUT_MS = 20_000;

const t00 = Date.now();
const log = (...a) => console.log(`[newcomer-ui +${Date.now() - t00}ms]`, ...a);
const norm = (s) => (s || '').replace(/\u00a0/g, ' ');

function fail(message) {
  console.error(`ui-newcomer: ${message}`);
  process.exit(1);
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) fail(`--rounds must be a positive integer, got ${opt('rounds')}`);
if (!Number.isFinite(REST_MS) || REST_MS < 0) fail(`--rest-ms must be a number of ms >= 0, got ${opt('rest-ms')}`);
if (ACCEPT !== 'type' && ACCEPT !== 'tab') fail(`--accept must be type or tab, got ${ACCEPT}`);
if (SUGGEST !== 'off' && SUGGEST !== 'default') fail(`--suggest must be off or default, got ${SUGGEST}`);
if (!fs.existsSync(path.join(REPO, FILE))) fail(`${path.join(REPO, FILE)} not found (the default repository comes from \`bash bench/names-fetch.sh\`)`);

/** Source files of the repository, to say how big it is. */
function countFiles(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += countFiles(p);
    else if (/\.(ts|tsx|js|jsx|mjs|cjs)$/.test(e.name)) n++;
  }
  return n;
}

/** 1-based line of the cursor: as src/bench/newcomer/main.ts cursorOf, the end of the first line
 *  past the file's middle that ends with `{`. */
function cursorLine(text) {
  let at = text.indexOf('\n', Math.floor(text.length / 2));
  while (at >= 0) {
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    if (/\{\s*$/.test(text.slice(lineStart, at))) return text.slice(0, at).split('\n').length;
    at = text.indexOf('\n', at + 1);
  }
  return text.slice(0, Math.floor(text.length / 2)).split('\n').length;
}

const GHOST = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text';

/** Waits for non-empty ghost text; the ms it took from `since` and its first non-empty line. */
/** VS Code's inline-completion fetches (`editor.inlineSuggest.logFetch` logs each start and end to
 *  the page's console), so a request without ghost text says whether VS Code asked at all or was
 *  answered with nothing: `none` (no fetch started), `empty` (fetches ended without an item),
 *  `canceled` (every fetch canceled by a newer edit) or `pending`. */
function fetchesSince(fetches, since) {
  const started = fetches.filter((f) => f.kind === 'start' && f.time >= since);
  if (!started.length) return 'none';
  const ids = new Set(started.map((f) => f.requestId));
  const ended = fetches.filter((f) => f.kind === 'end' && ids.has(f.requestId));
  if (ended.some((f) => !f.error && f.result?.length)) return 'shown';
  if (ended.some((f) => !f.error)) return 'empty';
  return ended.length === started.length ? 'canceled' : 'pending';
}

async function ghostAfter(page, since, timeout = GHOST_TIMEOUT_MS) {
  // seenAt: the page's clock when the ghost text was found, against the last keydown the page
  // dispatched (`inPage`): on a loaded machine the page may dispatch keys well after Playwright
  // sent them, a lag the time from `since` includes and a user's own VS Code would not have
  const seenAt = await page
    .waitForFunction((sel) => [...document.querySelectorAll(sel)].some((e) => e.textContent.replace(/\u00a0/g, ' ').trim()) && performance.now(), GHOST, { timeout, polling: 20 })
    .then((h) => h.jsonValue(), () => undefined);
  const ms = Date.now() - since;
  if (seenAt === undefined) return { ms: undefined, inPage: undefined, line: '', text: '', below: false };
  const lastKey = await page.evaluate(() => window.__tbLastKey);
  const inPage = lastKey === undefined ? undefined : Math.round(seenAt - lastKey);
  const sameLine = norm((await page.locator('.monaco-editor .ghost-text-decoration').allTextContents()).join(''));
  const below = norm((await page.locator('.monaco-editor .ghost-text').allTextContents()).join('\n'));
  // `text`: what typing the suggestion's first line types (after an Enter when it starts below)
  const text = sameLine.trim() ? sameLine : (below.split('\n').find((l) => l.trim()) ?? '').trim();
  return { ms, inPage, line: text.trim(), text, below: !sameLine.trim() };
}

async function round(t, vsix, r) {
  const state = cs.makeState('tb-newcomer-ui-');
  let server;
  let browser;
  try {
    if (!process.env.EXT_DEV) cs.installVsix(t, state, vsix);
    {
      const file = path.join(state.userData, 'User', 'settings.json');
      const settings = JSON.parse(fs.readFileSync(file, 'utf8'));
      settings['editor.inlineSuggest.logFetch'] = true; // fetchesSince
      if (SUGGEST === 'default') {
        delete settings['editor.quickSuggestions'];
        delete settings['editor.suggestOnTriggerCharacters'];
      }
      fs.writeFileSync(file, JSON.stringify(settings, null, 2));
    }
    const folder = cs.copyWorkspace(REPO, state.dir);
    server = await cs.startCodeServer(t, state, { smokeDriver: !!process.env.EXT_DEV });
    browser = await cs.launchChromium(t);
    const { page } = browser;
    // the workbench's errors, printed when no suggestion was asked for (VS Code's side of a miss)
    const consoleErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text().slice(0, 300)}`);
      const at = m.text().indexOf('InlineCompletions.fetch @@ ');
      if (at >= 0) {
        try {
          fetches.push(JSON.parse(m.text().slice(at + 'InlineCompletions.fetch @@ '.length)));
        } catch {
          // a log line in another shape: not counted
        }
      }
    });
    const fetches = [];
    let url = `${server.url}/?folder=${encodeURIComponent(folder)}`;
    if (process.env.EXT_DEV) {
      const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${server.port}${cs.ROOT}`], ['skipWelcome', 'true']]);
      url += `&payload=${encodeURIComponent(payload)}`;
    }
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: 120_000 });
    const ready = await cs.engineStatus(page);
    if (!/ready/.test(ready || '')) throw new Error(`the engine did not get ready: ${ready}`);
    log(`round ${r}: engine ready`);
    await page.evaluate(() => window.addEventListener('keydown', () => (window.__tbLastKey = performance.now()), true));

    // t0: the file is opened (Quick Open, Enter); the extension's focus warmup starts here
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill(FILE);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(FILE) }).first().waitFor();
    const t0 = Date.now();
    await page.keyboard.press('Enter');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-line').first().waitFor({ timeout: 30_000 });
    const line = cursorLine(fs.readFileSync(path.join(REPO, FILE), 'utf8'));
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').fill(`:${line}`);
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await page.waitForFunction((l) => document.querySelector('.part.statusbar')?.textContent.includes(`Ln ${l},`), line, { polling: 20 });
    await page.keyboard.press('End');
    if (REST_MS > 0) await page.waitForTimeout(REST_MS);
    // a new statement in that block: Enter, then `this.` typed (typing asks for the suggestion)
    const tEnter = Date.now();
    await page.keyboard.press('Enter');
    await page.keyboard.type(FIRST_TYPED, { delay: KEY_DELAY_MS });
    const tTyped = Date.now();
    let first = await ghostAfter(page, tTyped, 5_000);
    let triggered = false;
    const typedFetch = fetchesSince(fetches, tEnter);
    if (first.ms === undefined) {
      log(`round ${r}: no ghost text 5 s after the typing; VS Code's fetches since Enter: ${typedFetch}`);
      // VS Code did not ask the providers after the typing (it happens in a workbench still busy
      // opening the folder): ask explicitly (Trigger Inline Suggestion) and count from that keystroke
      triggered = true;
      if (consoleErrors.length) log(`round ${r}: workbench console before the trigger:\n  ${consoleErrors.slice(-15).join('\n  ')}`);
      const tTrigger = Date.now();
      await page.keyboard.press('Alt+Backslash');
      first = await ghostAfter(page, tTrigger);
    }
    if (process.env.SHOT_DIR) await page.screenshot({ path: path.join(process.env.SHOT_DIR, `newcomer-${r}.png`) });
    const requests = [{ fromOpen: first.ms === undefined ? undefined : tTyped - t0 + first.ms, ms: first.ms, inPage: first.inPage, shown: first.line, keys: 0, triggered, fetch: triggered ? typedFetch : undefined }];
    log(`round ${r}: first ghost text ${first.ms} ms after the last keystroke (${first.inPage} ms after the page dispatched it)${triggered ? ' (Alt+\\, after no suggestion was asked for the typing in 5 s)' : ''} (${tTyped - t0} ms after opening): ${JSON.stringify(first.line)}`);
    let shown = first;
    for (let i = 0; i < (SUGGEST === 'default' ? 0 : NEXT); i++) {
      if (!shown.text) break;
      if (ACCEPT === 'tab') {
        await page.keyboard.press('Tab');
        await page.waitForTimeout(KEY_DELAY_MS);
      } else {
        if (shown.below) await page.keyboard.press('Enter'); // the suggestion starts on the next line
        await page.keyboard.type(shown.text, { delay: KEY_DELAY_MS });
      }
      const tLast = Date.now();
      await page.keyboard.press('Enter');
      const next = await ghostAfter(page, tLast);
      if (process.env.SHOT_DIR) await page.screenshot({ path: path.join(process.env.SHOT_DIR, `newcomer-${r}-${i + 2}.png`) });
      const fetch = next.ms === undefined ? fetchesSince(fetches, tLast) : undefined;
      requests.push({ ms: next.ms, inPage: next.inPage, shown: next.line, keys: shown.text.length + (shown.below ? 2 : 1), fetch });
      log(`round ${r}: request ${i + 2}: ${next.ms} ms after the last keystroke (${next.inPage} ms after the page dispatched it): ${JSON.stringify(next.line)}${fetch ? `; VS Code's fetches after Enter: ${fetch}` : ''}`);
      shown = next;
    }
    return requests;
  } finally {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (process.env.KEEP_STATE) log('state (code-server and extension logs) kept in', state.dir);
    else fs.rmSync(state.dir, { recursive: true, force: true });
  }
}

const t = cs.tools();
if (t.missing) fail(t.missing);
const vsix = path.resolve(process.env.VSIX || path.join(cs.ROOT, 'out/tokenbutler-code-linux-x64.vsix'));
if (!process.env.EXT_DEV && !fs.existsSync(vsix)) fail(`${vsix} not found: run \`npm run package\` first (or set EXT_DEV=1)`);
const rounds = [];
for (let r = 1; r <= ROUNDS; r++) rounds.push(await round(t, vsix, r));

const median = (xs) => {
  const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : undefined;
};
const fmt = (x) => (x === undefined ? 'none' : `${x} ms`);
const rows = [];
for (let i = 0; i < 1 + NEXT; i++) {
  const got = rounds.map((rs) => rs[i]).filter(Boolean);
  const label = i === 0 ? `first suggestion (a new line in a block, \`${FIRST_TYPED}\` typed, right after opening the file)` : `request ${i + 1} (${ACCEPT === 'tab' ? 'the suggestion accepted with Tab' : 'the shown line typed'}, then Enter)`;
  const each = got
    .map((q) => `${fmt(q.ms)}${q.triggered ? ` (asked with Alt+\\ after 5 s without ghost text; VS Code's fetches for the typing: ${q.fetch})` : q.fetch ? ` (VS Code's fetches: ${q.fetch})` : q.fromOpen !== undefined ? ` (${q.fromOpen} ms from opening)` : ''}`)
    .join(', ');
  rows.push(`| ${label} | ${fmt(median(got.map((q) => q.ms)))} | ${fmt(median(got.map((q) => q.inPage)))} | ${each} |`);
}
const load = os.loadavg()[0].toFixed(1);
const report = [
  `Run ${new Date().toISOString()}, ${os.cpus().length} cores (load average ${load}), command \`node test/e2e/ui-newcomer.mjs --rounds ${ROUNDS}${ACCEPT === 'tab' ? ' --accept tab' : ''}${SUGGEST === 'default' ? ' --suggest default' : ''}${REST_MS ? ` --rest-ms ${REST_MS}` : ''}\`${process.env.EXT_DEV ? ' (EXT_DEV=1)' : ''}: real VS Code (code-server) in headless Chromium, extension defaults.`,
  `Repository \`${path.relative(cs.ROOT, REPO)}\` (${countFiles(REPO)} source files, held out from training), file \`${FILE}\`. A fresh code-server per round; each time is from the last keystroke to ghost text on screen (Playwright's clock: the key sent; the page's clock: the page's last keydown event).`,
  '',
  '| request | p50 | p50 from the key the page dispatched | each round |',
  '|---|---|---|---|',
  ...rows,
  '',
  "Without ghost text, VS Code's own log of its inline-completion fetches (`editor.inlineSuggest.logFetch`) says why: `none` (it asked no provider), `empty` (answered with no item: the model ended the line or a stop rule left nothing), `canceled` (every fetch canceled by a newer edit), `pending` (no answer yet).",
  '',
  'Suggestions shown: ' + rounds.map((rs, i) => `round ${i + 1}: ${rs.map((q) => JSON.stringify(q.shown)).join(' → ')}`).join('; '),
].join('\n');
console.log(report);
if (OUT) fs.writeFileSync(OUT, `${report}\n`);
log('done');
