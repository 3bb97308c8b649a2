// npm start [-- FOLDER]: build, package the VSIX, then try it in VS Code on FOLDER (default: a
// copy of the sample workspace test/fixtures/ws):
//  - desktop VS Code (`code` on PATH): install the VSIX and open the folder;
//  - otherwise: a local code-server (real VS Code in the browser) on 127.0.0.1 serving the folder,
//    with the VSIX installed; prints the URL, serves until Ctrl-C. code-server and the Node 24 it
//    needs are installed once by .ci/install.sh (its progress lines are shown as they come).
// Env: TOKENBUTLER_FOLDER (the folder, when none is given), PORT (default 8080, or a free port if
// taken), TOKENBUTLER_CI_CACHE (where code-server lives), TOKENBUTLER_USE_CODE_SERVER=1 (even
// when `code` is on PATH).
// Every failure ends in one sentence saying what failed and what to do, never a stack trace.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import cs from '../test/e2e/code-server.js';

/** A failure explained to the user: printed as is, exit code 1. */
class StartError extends Error {}

const root = cs.ROOT;
const sample = path.join(root, 'test/fixtures/ws');
const vsix = path.join(root, 'out/tokenbutler-code-linux-x64.vsix');

/** The folder to open: the first argument, else TOKENBUTLER_FOLDER; undefined = the sample.
 *  npm runs scripts in the package root, so a relative path is taken from where npm was run. */
function chosenFolder() {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown) throw new StartError(`unknown option ${unknown}; usage: npm start -- [FOLDER] (or set TOKENBUTLER_FOLDER).`);
  if (args.length > 1) throw new StartError(`one folder at a time (got ${args.length}: ${args.join(' ')}); usage: npm start -- [FOLDER].`);
  const given = args[0] ?? process.env.TOKENBUTLER_FOLDER;
  if (!given) return undefined;
  const abs = path.resolve(process.env.INIT_CWD || process.cwd(), given);
  let stat;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new StartError(`${abs} does not exist; give the folder of your project: npm start -- /path/to/project`);
  }
  if (!stat.isDirectory()) throw new StartError(`${abs} is a file, not a folder; give the folder of your project: npm start -- ${path.dirname(abs)}`);
  return abs;
}

/**
 * Passes a child's output through line by line, leaving out Node's report of an uncaught error:
 * from its "file:line" header to its closing "Node.js vX" line. A failing build tool has already
 * said what is wrong (esbuild's and vsce's own messages stay); the stack behind it helps nobody.
 */
function withoutNodeTraces(out) {
  let buf = '';
  let inTrace = false;
  const line = (l) => {
    if (!inTrace && /^(node:\S+|file:\/\/\S+|\/\S+|\[eval\]):\d+$/.test(l)) inTrace = true;
    if (!inTrace) out.write(`${l}\n`);
    else if (/^Node\.js v\d/.test(l)) inTrace = false;
  };
  return {
    write: (chunk) => {
      const lines = (buf + chunk.toString()).split('\n');
      buf = lines.pop();
      lines.forEach(line);
    },
    end: () => buf && line(buf),
  };
}

/** Runs a step whose own output streams to the terminal; its failure becomes one sentence. */
function step(what, cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['inherit', 'pipe', 'pipe'] });
    const out = withoutNodeTraces(process.stdout);
    const err = withoutNodeTraces(process.stderr);
    child.stdout.on('data', out.write);
    child.stderr.on('data', err.write);
    child.on('error', (e) => reject(new StartError(`${what} failed (${e.code === 'ENOENT' ? `${cmd} was not found` : e.message}).`)));
    child.on('close', (code, signal) => {
      out.end();
      err.end();
      if (code === 0) resolve();
      else reject(new StartError(`${what} failed (${signal ? `stopped by ${signal}` : `exit code ${code}`}); its messages are above.`));
    });
  });
}

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const portFree = (port) =>
  new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

async function main() {
  const userFolder = chosenFolder();
  const wanted = process.env.PORT ? Number(process.env.PORT) : 8080;
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > 65535) throw new StartError(`PORT=${process.env.PORT} is not a port number (1-65535); unset it or pick another.`);

  console.log('[start] building and packaging the extension');
  await step('building and packaging the extension (npm run package)', process.execPath, [path.join(root, 'scripts/package.mjs'), '--no-check']);

  if (onPath('code') && !process.env.TOKENBUTLER_USE_CODE_SERVER) {
    const folder = userFolder ?? sample;
    await step(`installing ${path.basename(vsix)} into VS Code (code --install-extension)`, 'code', ['--install-extension', vsix, '--force']);
    await step(`opening ${folder} in VS Code`, 'code', [folder]);
    console.log(`Installed ${path.basename(vsix)} into VS Code and opened ${folder}.`);
    return;
  }

  let t = cs.tools();
  if (t.missing) {
    console.log(`[start] no \`code\` on PATH, so TokenButler runs in code-server (VS Code in the browser); ${t.missing.replace(/: run .*/, '')}.`);
    console.log(`[start] installing them once into ${cs.CACHE}: about 3-4 minutes (code-server compiles native addons)`);
    await step(`installing Node 24 + code-server (.ci/install.sh; log: ${path.join(cs.CACHE, 'code-server-*/install.log')})`, 'bash', [path.join(root, '.ci/install.sh')], {
      env: { ...process.env, TOKENBUTLER_CI_CACHE: cs.CACHE, TOKENBUTLER_SKIP_PYTHON: '1' },
    });
    t = cs.tools();
    if (t.missing) throw new StartError(`.ci/install.sh finished but code-server is still not usable (${t.missing.replace(/: run .*/, '')}); run \`bash .ci/install.sh\` and read its messages.`);
  }

  const port = (await portFree(wanted)) ? wanted : await cs.freePort();
  const state = cs.makeState('tb-start-');
  const logFile = path.join(state.dir, 'code-server.log');
  // The sample is served from a copy, so trying it never edits the committed test fixture.
  const folder = userFolder ?? cs.copyWorkspace(sample, state.dir);
  let server;
  try {
    try {
      cs.installVsix(t, state, vsix);
    } catch (e) {
      throw new StartError(`installing ${path.basename(vsix)} into code-server failed: ${String(e.stderr || e.message).trim().split('\n').pop()}; run \`npm run package\` and try again.`);
    }
    try {
      server = await cs.startCodeServer(t, state, { port, folder, logFile });
    } catch (e) {
      throw new StartError(`code-server did not start (${e.message.split(';')[0]}); see ${logFile}.`);
    }
  } catch (e) {
    if (!(e instanceof StartError)) throw e;
    fs.rmSync(path.join(state.dir, 'extensions'), { recursive: true, force: true }); // keep the log
    throw e;
  }

  const url = `${server.url}/?folder=${encodeURIComponent(folder)}`;
  const what = userFolder ? folder : `a copy of the sample workspace (test/fixtures/ws; changes are discarded when it stops)`;
  console.log(`\nTokenButler Code is installed in a local VS Code (code-server) serving ${what}:\n\n  ${url}\n`);
  console.log(`Open it in a browser (remote machine: ssh -L ${port}:127.0.0.1:${port} ...). Logs: ${logFile}`);
  console.log('Press Ctrl-C to stop.');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    fs.rmSync(state.dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  server.proc.on('exit', (code) => {
    if (!stopping) {
      console.error(`npm start: code-server stopped by itself (exit code ${code}); see ${logFile}, then run npm start again.`);
      process.exit(1);
    }
  });
}

try {
  await main();
} catch (e) {
  const msg = e instanceof StartError ? e.message : `unexpected error: ${e?.message ?? e}; please report it with the lines above.`;
  console.error(`npm start: ${msg}`);
  process.exit(1);
}
