// UI test harness: installs the packaged VSIX into a fresh code-server (real VS Code), serves a
// copy of test/fixtures/ws, drives it with Playwright + headless Chromium (test/ui/*.ui.mjs),
// then stops everything. Screenshots go to test-results/ui/ and are copied to test/ui/screenshots/.
// Prints "N passed, N failed".
// Env: VSIX (default out/tokenbutler-code-linux-x64.vsix), EXT_DEV=1 (load the repo unpackaged
// instead), KEEP_STATE=1, CODE_SERVER / NODE24_BIN / CHROMIUM.
import fs from 'node:fs';
import path from 'node:path';
import cs from './code-server.js';
import { run as ghostText } from '../ui/ghost-text.ui.mjs';
import { run as editorExperience, statusBar } from '../ui/editor/context.ui.mjs';

const t0 = Date.now();
const log = (...a) => console.log(`[ui +${Date.now() - t0}ms]`, ...a);
const results = [];
const check = (name, ok, detail = '') => {
  results.push({ name, ok });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
};

const t = cs.tools();
if (t.missing) {
  console.error(t.missing);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const vsix = path.resolve(process.env.VSIX || path.join(cs.ROOT, 'out/tokenbutler-code-linux-x64.vsix'));
const shotDir = path.join(cs.ROOT, 'test-results/ui');
const committedShots = path.join(cs.ROOT, 'test/ui/screenshots');
const state = cs.makeState('tb-ui-');
let server;
let browser;
try {
  if (!process.env.EXT_DEV) {
    if (!fs.existsSync(vsix)) throw new Error(`${vsix} not found: run \`npm run package\` first`);
    cs.installVsix(t, state, vsix);
    log('installed', path.relative(cs.ROOT, vsix));
  }
  const folder = cs.copyWorkspace(path.join(cs.ROOT, 'test/fixtures/ws'), state.dir);
  server = await cs.startCodeServer(t, state, { smokeDriver: !!process.env.EXT_DEV });
  log('code-server on', server.url);
  browser = await cs.launchChromium(t);
  browser.ctx.setDefaultTimeout(60_000);
  browser.page.on('pageerror', (e) => log('pageerror:', e.message));
  let baseUrl = server.url;
  if (process.env.EXT_DEV) {
    // The payload parameter loads the unpackaged extension (needs the smoke-test driver).
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${server.port}${cs.ROOT}`], ['skipWelcome', 'true']]);
    baseUrl = { toString: () => server.url }; // keep the plain URL for the scenario
    browser.page.goto = ((goto) => (url, opts) => goto(`${url}&payload=${encodeURIComponent(payload)}`, opts))(browser.page.goto.bind(browser.page));
  }
  await ghostText({ page: browser.page, baseUrl: String(baseUrl), folder, shotDir, check, log });
  await editorExperience({ page: browser.page, baseUrl: String(baseUrl), folder, shotDir, check, log });
  await statusBar({ page: browser.page, baseUrl: String(baseUrl), folder, shotDir, check, log });
} catch (e) {
  log('ERROR', e.stack || e);
  results.push({ name: 'scenario threw', ok: false });
  if (browser) await browser.page.screenshot({ path: path.join(shotDir, 'error.png') }).catch(() => {});
} finally {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (fs.existsSync(shotDir)) {
    fs.mkdirSync(committedShots, { recursive: true });
    for (const f of fs.readdirSync(shotDir).filter((f) => f.endsWith('.png'))) fs.copyFileSync(path.join(shotDir, f), path.join(committedShots, f));
  }
}
const failed = results.filter((r) => !r.ok).length;
if (failed || process.env.KEEP_STATE) {
  // Keep the logs, not the ~60 MB installed extension.
  if (!process.env.KEEP_STATE) fs.rmSync(state.extensionsDir, { recursive: true, force: true });
  log('state (code-server.log, extension host + engine logs) kept in', state.dir);
}
else fs.rmSync(state.dir, { recursive: true, force: true });
log(`done in ${Date.now() - t0} ms`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
