// Bundles the extension, the engine child, its inference worker and the CLI into dist/.
// onnxruntime-node (native binding) and typescript (the language service reads its lib .d.ts files
// next to itself) stay external everywhere, shipped as pruned node_modules copies in the VSIX;
// vscode is provided by the extension host.
//   node esbuild.mjs            build dist/
//   node esbuild.mjs --watch    rebuild on change
//   node esbuild.mjs --tests    also bundle test/integration/**/*.test.ts (helpers are bundled into each) to out/test/integration/
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(new URL(import.meta.url).pathname);
const args = new Set(process.argv.slice(2));
const external = ['vscode', 'onnxruntime-node', 'typescript'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  external,
  absWorkingDir: root,
};

const entries = [
  { in: 'src/extension/extension.ts', out: 'dist/extension.js' },
  { in: 'src/engine/child.ts', out: 'dist/engine-child.js' },
  { in: 'src/engine/worker.ts', out: 'dist/engine-worker.js' },
  // the monitors' TypeScript language service (its own thread); typescript stays external so it
  // finds its lib declarations next to itself (shipped in the VSIX as node_modules/typescript/lib)
  { in: 'src/engine/monitors/ts-worker.ts', out: 'dist/engine-ts-worker.js' },
  { in: 'src/engine/cli.ts', out: 'dist/cli.js', banner: '#!/usr/bin/env node' },
  // benchmarks only (not packaged): next-identifier match and line completion on held-out code
  { in: 'src/bench/names/main.ts', out: 'out/bench-names.js' },
  // first suggestion in an unseen repository, warmup off and on (bench/first-suggestion.md)
  { in: 'src/bench/newcomer/main.ts', out: 'out/bench-newcomer.js' },
  // the first suggestion after the cursor comes to rest, with and without the cursor warmup (bench/cursor-rest.md)
  { in: 'src/bench/newcomer/rest.ts', out: 'out/bench-rest.js' },
  // the monitors' language service on large workspaces: start, memory, the first query after a file switch (bench/language-service.md)
  { in: 'src/bench/ls-cost.ts', out: 'out/bench-ls.js' },
  // Explain Selection there, cold (partial or whole context) and cached
  { in: 'src/bench/newcomer/explain.ts', out: 'out/bench-explain.js' },
];

function testEntries() {
  const dir = path.join(root, 'test/integration');
  if (!fs.existsSync(dir)) return [];
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.test\.ts$/.test(e.name)) found.push(path.relative(root, p));
    }
  };
  walk(dir);
  // test/integration/x/y.test.ts -> out/test/integration/x/y.test.js
  return found.map((f) => ({ in: f, out: path.join('out', f.replace(/\.ts$/, '.js')) }));
}

const options = [];
for (const e of entries) {
  if (!fs.existsSync(path.join(root, e.in))) {
    // Entry points written in parallel by others must not break the build.
    console.warn(`esbuild: skipping ${e.in} (not there yet) -> ${e.out} not built`);
    continue;
  }
  options.push({
    ...common,
    entryPoints: [e.in],
    outfile: e.out,
    ...(e.banner ? { banner: { js: e.banner } } : {}),
  });
}
if (args.has('--tests')) {
  for (const e of testEntries()) {
    options.push({ ...common, entryPoints: [e.in], outfile: e.out, external: [...external, 'mocha'] });
  }
}

if (args.has('--watch')) {
  const contexts = await Promise.all(options.map((o) => esbuild.context(o)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`esbuild: watching ${options.length} entry points`);
} else {
  const t0 = Date.now();
  await Promise.all(options.map((o) => esbuild.build(o)));
  const cli = path.join(root, 'dist/cli.js');
  if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
  console.log(`esbuild: built ${options.map((o) => o.outfile).join(', ')} in ${Date.now() - t0} ms`);
}
