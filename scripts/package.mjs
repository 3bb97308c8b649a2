// npm run package: build dist/, then package the VSIX for linux-x64 into out/ and check it.
// onnxruntime-node is shipped as a pruned node_modules copy (see .vscodeignore), so vsce runs
// with dependencies (it lists production deps via npm) and .vscodeignore keeps only the runtime.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const target = process.env.TOKENBUTLER_VSIX_TARGET || 'linux-x64';
const vsix = path.join(root, 'out', `tokenbutler-code-${target}.vsix`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['esbuild.mjs']);
fs.mkdirSync(path.dirname(vsix), { recursive: true });
fs.rmSync(vsix, { force: true });
run(process.execPath, [path.join(root, 'node_modules/@vscode/vsce/vsce'), 'package', '--target', target, '--out', vsix]);
console.log(`packaged ${path.relative(root, vsix)} (${(fs.statSync(vsix).size / 1e6).toFixed(1)} MB)`);
if (!process.argv.includes('--no-check')) run(process.execPath, [path.join(root, 'test/package/check-vsix.mjs'), vsix]);
