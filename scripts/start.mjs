// npm start: build, package the VSIX, then try it in VS Code:
//  - desktop VS Code (`code` on PATH): install the VSIX and open the sample workspace;
//  - otherwise: a local code-server (real VS Code in the browser) on 127.0.0.1 serving the
//    sample workspace test/fixtures/ws, with the VSIX installed; prints the URL, serves until Ctrl-C.
// Env: PORT (default 8080, or a free port if taken), TOKENBUTLER_CI_CACHE (where code-server lives).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import cs from '../test/e2e/code-server.js';

const root = cs.ROOT;
const workspace = path.join(root, 'test/fixtures/ws');
const vsix = path.join(root, 'out/tokenbutler-code-linux-x64.vsix');

execFileSync(process.execPath, [path.join(root, 'scripts/package.mjs'), '--no-check'], { stdio: 'inherit' });

const onPath = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
if (onPath('code') && !process.env.TOKENBUTLER_USE_CODE_SERVER) {
  execFileSync('code', ['--install-extension', vsix, '--force'], { stdio: 'inherit' });
  execFileSync('code', [workspace], { stdio: 'inherit' });
  console.log(`Installed ${path.basename(vsix)} into VS Code and opened ${workspace}.`);
  process.exit(0);
}

let t = cs.tools();
if (t.missing) {
  console.log(`No \`code\` on PATH; using code-server. ${t.missing}\nInstalling it now (about 3 minutes, once)...`);
  execFileSync('bash', [path.join(root, '.ci/install.sh')], { stdio: 'inherit', env: { ...process.env, TOKENBUTLER_SKIP_PYTHON: '1' } });
  t = cs.tools();
  if (t.missing) throw new Error(t.missing);
}

const portFree = (port) =>
  new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
const wanted = Number(process.env.PORT || 8080);
const port = (await portFree(wanted)) ? wanted : await cs.freePort();

const state = cs.makeState('tb-start-');
cs.installVsix(t, state, vsix);
const server = await cs.startCodeServer(t, state, { port, folder: workspace, logFile: path.join(state.dir, 'code-server.log') });
const url = `${server.url}/?folder=${encodeURIComponent(workspace)}`;
console.log(`\nTokenButler Code is installed in a local VS Code (code-server) serving ${path.relative(root, workspace)}:\n\n  ${url}\n`);
console.log(`Open it in a browser (remote machine: ssh -L ${port}:127.0.0.1:${port} ...). Logs: ${state.dir}/code-server.log`);
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
server.proc.on('exit', (code) => {
  if (!stopping) {
    console.error(`code-server exited (${code}); see ${state.dir}/code-server.log`);
    process.exit(1);
  }
});
