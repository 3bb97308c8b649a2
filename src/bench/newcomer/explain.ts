// Explain Selection in an unseen repository (bench/first-suggestion.md): the same selection
// explained with a cold cache (partialContext on: what a quick completion reads; off: the whole
// repository context first), then after the warmup has cached the context. Each round is a fresh
// in-process engine; the held-out package is the newcomer bench's.
// Usage: node esbuild.mjs && node out/bench-explain.js [--rounds N]
import * as path from 'path';
import { readFileSync } from 'fs';
import { assembleContext } from '../../context';
import { Engine, type Hooks } from '../../engine/engine';

const ROOT = path.resolve(__dirname, '..');
const WS = path.join(ROOT, 'training/work/heldout/ws/leaflet-1.9.4');
const FILE = 'src/layer/vector/Polyline.js';
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };

/** Three lines from the first line past the middle of the file. */
function selectionOf(text: string): { start: number; end: number } {
  const start = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
  let end = start;
  for (let i = 0; i < 3; i++) end = text.indexOf('\n', end) + 1;
  return { start, end: end - 1 };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 2;
  const text = readFileSync(path.join(WS, FILE), 'utf8');
  const { start, end } = selectionOf(text);
  const { payload: context } = await assembleContext({ workspaceRoot: WS, currentFile: FILE, prefix: text.slice(0, start), suffix: text.slice(end), maxContextTokens: 16384 });
  const selection = text.slice(start, end);
  console.log(`${FILE} in ${path.relative(ROOT, WS)}: ${context.files.length} related files, selection of ${selection.length} characters`);
  for (let r = 0; r < rounds; r++) {
    for (const partial of [true, false]) {
      const engine = new Engine();
      await engine.configure({ modelDir: path.join(ROOT, 'models/default'), executionProvider: 'cpu', policy: 'tokenbutler', budget: 512, maxContextTokens: 16384, maxNewTokens: 64, partialContext: partial }, hooks);
      const t0 = performance.now();
      const cold = await engine.explain({ context, selection }, hooks);
      const t1 = performance.now();
      await engine.warmup(context, hooks);
      const t2 = performance.now();
      const warm = await engine.explain({ context, selection }, hooks);
      const t3 = performance.now();
      const p = cold.contextPartial;
      console.log(`round ${r + 1}, partialContext ${partial ? 'on ' : 'off'}: ${cold.tokens.length} tokens; cold cache ${(t1 - t0).toFixed(0)} ms` +
        `${p ? ` (partial: ${p.placedFiles}/${p.relatedFiles} related files)` : ' (whole context)'}; warmup ${(t2 - t1).toFixed(0)} ms; cached ${(t3 - t2).toFixed(0)} ms${warm.contextPartial ? ' (partial)' : ' (whole context)'}`);
    }
  }
}

// the engines' worker threads (model runs, language service) would keep the process alive
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
