// Checks a packaged VSIX: the files it must and must not contain, and that the shipped
// onnxruntime-node native binding loads from the unpacked extension (under this Node, and under
// code-server's Node 24 when NODE24_BIN is set). Prints "N passed, N failed".
// Usage: node test/package/check-vsix.mjs [out/tokenbutler-code-linux-x64.vsix]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
  ]) {
    check(`contains ${f}`, has(f));
  }
  // Built by others; report rather than fail while they are missing from the source tree.
  for (const [f, src] of [['dist/engine-worker.js', 'src/engine/worker.ts'], ['dist/cli.js', 'src/engine/cli.ts'], ['models/default/manifest.json', 'models/default/manifest.json']]) {
    if (fs.existsSync(path.join(root, src))) check(`contains ${f}`, has(f));
    else console.log(`SKIP contains ${f} (${src} not in the repo yet)`);
  }
  const forbidden = files.filter((f) =>
    /^(src|test|training|bench|scripts|\.ci|out)\//.test(f) ||
    /\.(map|ts)$/.test(f) ||
    f === '.vscode-test.mjs' ||
    (f.startsWith('node_modules/') && !/^node_modules\/onnxruntime-(node|common)\//.test(f)) ||
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
  if (process.env.NODE24_BIN) nodes.push(['node24 (code-server)', path.join(process.env.NODE24_BIN, 'node')]);
  for (const [name, bin] of nodes) {
    try {
      const out = execFileSync(bin, ['-e', probe], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      check(`native binding loads from the VSIX under ${name}`, true, out.trim());
    } catch (e) {
      check(`native binding loads from the VSIX under ${name}`, false, String(e.stderr || e.message).split('\n').slice(0, 3).join(' '));
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
