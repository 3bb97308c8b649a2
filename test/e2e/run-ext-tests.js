// Runs VS Code extension tests (extensionDevelopmentPath + extensionTestsPath) inside real VS Code
// (code-server's bundled build) in headless Debian Chromium; started by ./code-shim.
//
// Usage: node run-ext-tests.js <extensionDevelopmentPath> <extensionTestsPath> [workspaceFolder]
// Env:   CODE_SERVER, NODE24_BIN (default: the .ci cache), CHROMIUM, TEST_TIMEOUT_MS (default
//        600000), VERBOSE=1 (workbench noise too), KEEP_STATE=1
//
// code-server runs with `--vscode-option enable-smoke-test-driver`, which makes the built
// workbench honour the `payload` URL parameter. The payload carries the two paths as
// vscode-remote:// URIs, so the extension and its tests run in the remote (Node) extension host.
// When the tests settle, the extension host exits and the workbench calls
// window.codeAutomationExit(code), exposed here through Playwright.
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const cs = require('./code-server');

const [devPath, testsPath, folderArg] = process.argv.slice(2);
if (!devPath || !testsPath) {
  console.error('usage: node run-ext-tests.js <extDevPath> <extTestsPath> [folder]');
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS || 600_000);
const t0 = Date.now();
const log = (...a) => console.log(`[runner +${Date.now() - t0}ms]`, ...a);

(async () => {
  const t = cs.tools();
  if (t.missing) {
    console.error(`[runner] ${t.missing}`);
    process.exit(1);
  }
  const state = cs.makeState('tb-ext-tests-');
  // Tests may edit files: give them a copy of the workspace.
  const folder = folderArg ? cs.copyWorkspace(path.resolve(folderArg), state.dir) : fs.mkdtempSync(path.join(state.dir, 'ws-'));
  let exitCode = 1;
  let server;
  let browser;
  try {
    server = await cs.startCodeServer(t, state, { smokeDriver: true });
    log(`code-server listening on ${server.url}`);
    browser = await cs.launchChromium(t);
    const { page } = browser;
    let resolveExit;
    const exited = new Promise((r) => (resolveExit = r));
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(code));
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      // In "extension tests from CLI" mode the workbench routes the extension host's console
      // (mocha's reporter) here.
      const line = util.format(...(args || []));
      if (!process.env.VERBOSE && cs.NOISE.test(line)) return;
      console.log(type === 'info' || type === 'log' ? line : `[${type}] ${line}`);
    });
    page.on('console', (m) => {
      const text = m.text();
      if (!process.env.VERBOSE && cs.NOISE.test(text)) return;
      if (process.env.VERBOSE || m.type() === 'error') console.log(`[workbench ${m.type()}] ${text.replace(/%c/g, '').replace(/color: [^ ]+ ?/g, '')}`);
    });
    const authority = `127.0.0.1:${server.port}`;
    const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(devPath)],
      ['extensionTestsPath', remote(testsPath)],
      ['skipWelcome', 'true'],
    ]);
    const url = `${server.url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`;
    log('opening workbench', folder);
    await page.goto(url);
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), TIMEOUT_MS))]);
    if (code === 'timeout') log(`TIMEOUT after ${TIMEOUT_MS} ms`);
    else {
      exitCode = Number(code);
      log(`extension host exited with code ${exitCode}`);
    }
  } catch (e) {
    log('runner error', e.stack || e);
  } finally {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (exitCode !== 0 || process.env.KEEP_STATE) log('state (code-server.log, extension host logs) kept in', state.dir);
    else fs.rmSync(state.dir, { recursive: true, force: true });
    log(`done in ${Date.now() - t0} ms`);
    process.exit(exitCode);
  }
})();
