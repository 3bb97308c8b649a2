// The front door, as a new user meets it: a fresh `git clone` of the committed HEAD, an empty tool
// cache (so Node 24 + code-server are installed through npm's lifecycle, as on a first run), then
// the README's `npm ci && npm start -- FOLDER` on a temp copy of the sample workspace. Headless
// Chromium opens the printed URL and checks that the workbench shows that folder's files in the
// explorer and "TokenButler: ready" in the status bar. Everything is stopped and removed after.
// Prints one line: "front door: passed (N s)" or "front door: FAILED: reason"; exit code 0 / 1.
// Env: FRONT_DOOR_TIMEOUT_S (default 1200: the whole check, clone to cleanup; on 2 idle cores it
// takes about 6-8 minutes, most of it compiling code-server's native addons), KEEP=1 keeps the
// temp folder for a post-mortem.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cs = require('../test/e2e/code-server.js');

const t0 = Date.now();
const secs = () => Math.round((Date.now() - t0) / 1000);
const log = (...a) => console.log(`[front door +${secs()}s]`, ...a);
const deadline = t0 + Number(process.env.FRONT_DOOR_TIMEOUT_S || 1200) * 1000;
const left = () => Math.max(1000, deadline - Date.now());

class Failure extends Error {}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-front-door-'));
const clone = path.join(tmp, 'tokenbutler-code');
const cache = path.join(tmp, 'tool-cache');
const folder = path.join(tmp, 'my-project');
// Every process started here inherits this variable: cleanup finds them by it, even code-server,
// which runs in its own process group.
const MARK = `TB_FRONT_DOOR_RUN=${path.basename(tmp)}`;
process.env.TB_FRONT_DOOR_RUN = path.basename(tmp); // Chromium too (started by Playwright from here)

/** The environment of a user's shell: none of an outer npm's lifecycle variables. */
function userEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NPM_|NODE_OPTIONS$|NODE$|INIT_CWD$|TOKENBUTLER_|CODE_SERVER$|NODE24_BIN$)/.test(k)) env[k] = v;
  return { ...env, [MARK.split('=')[0]]: MARK.split('=')[1], ...extra };
}

/** Runs a command to completion, streaming its output with a prefix; returns its last lines. */
function run(label, cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = [];
    const onData = (d) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        console.log(`  ${label}| ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', (e) => reject(new Failure(`${label}: ${e.message}`)));
    p.on('exit', (code, signal) => (code === 0 ? resolve(tail) : reject(new Failure(`${label} failed (${signal || `exit code ${code}`}): ${tail.at(-1) ?? ''}`))));
  });
}

/** Processes carrying MARK (ours, by id), youngest first. */
function markedPids() {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(MARK)) pids.push(Number(d));
    } catch {
      // gone, or not ours
    }
  }
  return pids.sort((a, b) => b - a);
}

/** Stops npm start the way a user does (a signal to its process group: start.mjs then stops
 *  code-server), waits up to 10 s for every marked process to end, then ends the rest by id.
 *  Returns how many were left: after a passed check, any is a failure of npm start's Ctrl-C. */
async function stopAll(start) {
  if (start && start.exitCode === null && start.signalCode === null) {
    try {
      process.kill(-start.pid, 'SIGTERM'); // npm, sh, node scripts/start.mjs
    } catch {}
    await Promise.race([new Promise((r) => start.once('exit', r)), new Promise((r) => setTimeout(r, 15_000))]);
  }
  for (let i = 0; i < 40 && markedPids().length; i++) await new Promise((r) => setTimeout(r, 250));
  const left = markedPids();
  const signal = (sig) => left.forEach((pid) => { try { process.kill(pid, sig); } catch {} });
  if (left.length) {
    signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    signal('SIGKILL');
    log(`ended ${left.length} leftover process(es) by id: ${left.join(' ')}`);
  }
  return left.length;
}

let start;
let browser;
let verdict;
let watchdog;
async function check() {
  // ---- fresh clone of the committed HEAD
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const head = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  log(`git clone (HEAD ${head}) into ${clone}; empty tool cache ${cache}`);
  await run('git', 'git', ['clone', '--quiet', repo, clone], { env: userEnv() });
  fs.mkdirSync(cache);
  fs.cpSync(path.join(clone, 'test/fixtures/ws'), folder, { recursive: true });
  // A file only this copy has: the explorer showing it proves this folder is the one opened.
  const marker = `front-door-${process.pid}.md`;
  fs.writeFileSync(path.join(folder, marker), '# opened by the front-door check\n');

  // ---- npm ci, as the README says
  log('npm ci');
  await run('npm ci', 'npm', ['ci', '--no-fund', '--no-audit'], { cwd: clone, env: userEnv() });

  // ---- npm start -- FOLDER, through npm; wait for the URL it prints. (TOKENBUTLER_USE_CODE_SERVER:
  // the browser path even where a desktop `code` is on PATH, since only that path can be checked.)
  const port = await cs.freePort();
  log(`npm start -- ${folder} (PORT=${port}, TOKENBUTLER_CI_CACHE=${cache})`);
  start = spawn('npm', ['start', '--', folder], {
    cwd: clone,
    env: userEnv({ PORT: String(port), TOKENBUTLER_CI_CACHE: cache, TOKENBUTLER_USE_CODE_SERVER: '1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const startTail = [];
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        console.log(`  npm start| ${line}`);
        startTail.push(line);
        if (startTail.length > 20) startTail.shift();
        const m = /^\s+(http:\/\/127\.0\.0\.1:(\d+)\/\?folder=\S+)\s*$/.exec(line);
        if (m) resolve(m[1]);
      }
    };
    start.stdout.on('data', onData);
    start.stderr.on('data', onData);
    start.on('exit', (code, signal) => reject(new Failure(`npm start exited (${signal || `exit code ${code}`}) before printing the URL: ${startTail.filter((l) => l.trim()).at(-1) ?? ''}`)));
    setTimeout(() => reject(new Failure(`npm start printed no URL within ${secs()} s: ${startTail.at(-1) ?? ''}`)), left());
  });
  log(`npm start serves ${url}`);
  if (!url.includes(`127.0.0.1:${port}/`)) throw new Failure(`npm start serves port ${new URL(url).port}, not PORT=${port}`);
  if (decodeURIComponent(new URL(url).searchParams.get('folder')) !== folder) throw new Failure(`npm start serves ${new URL(url).searchParams.get('folder')}, not the folder given (${folder})`);

  // ---- the workbench in Chromium: the folder's files in the explorer, the engine ready
  browser = await cs.launchChromium({ chromium: process.env.CHROMIUM || '/usr/bin/chromium' });
  const { page } = browser;
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: Math.min(left(), 120_000) });
  const rows = page.locator('.explorer-folders-view .monaco-list-row');
  for (const name of [marker, 'src', 'package.json']) {
    const shown = await rows.filter({ hasText: name }).first().waitFor({ timeout: Math.min(left(), 120_000) }).then(() => true, () => false);
    if (!shown) throw new Failure(`the explorer does not show ${name} of ${folder} (rows: ${(await rows.allTextContents()).join(', ')})`);
  }
  log('the explorer shows the folder:', (await rows.allTextContents()).join(', '));
  const status = await page
    .waitForFunction(() => {
      const item = [...document.querySelectorAll('.part.statusbar .statusbar-item')].find((e) => e.textContent.includes('TokenButler'));
      return item && /TokenButler: (ready|error)/.test(item.textContent) ? item.textContent.trim() : null;
    }, null, { timeout: Math.min(left(), 240_000), polling: 250 })
    .then((h) => h.jsonValue(), () => null);
  if (!status) throw new Failure('the status bar never showed "TokenButler: ready" (nor an error) within 4 minutes');
  if (!/TokenButler: ready/.test(status)) throw new Failure(`the status bar shows "${status}" instead of "TokenButler: ready"`);
  log(`status bar: ${status}`);
  return `front door: passed (${secs()} s)`;
}

try {
  // Whatever step hangs (clone, npm ci, the install, the workbench), the check ends by the deadline;
  // stopAll() then ends every process it started, found by MARK.
  const timedOut = new Promise((_, reject) => {
    watchdog = setTimeout(() => reject(new Failure(`not done within ${secs()} s (FRONT_DOOR_TIMEOUT_S)`)), left());
  });
  verdict = await Promise.race([check(), timedOut]);
} catch (e) {
  verdict = `front door: FAILED: ${e instanceof Failure ? e.message : e?.stack || e}`;
} finally {
  clearTimeout(watchdog);
  if (browser) await browser.close();
  const stragglers = await stopAll(start);
  if (stragglers && verdict.includes('passed')) verdict = `front door: FAILED: ${stragglers} process(es) were still running 10 s after npm start was stopped`;
  if (process.env.KEEP) log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(verdict);
process.exit(verdict.includes('passed') ? 0 : 1);
