// The real engine child + inference worker, bundled from src/engine exactly as esbuild.mjs bundles
// dist/engine-child.js and dist/engine-worker.js, but into a private folder per test file: other
// test files rebuild dist/ while tests run, and a child forked from a half-written file would be
// a false failure. The folder is inside the repository so `onnxruntime-node` resolves.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { EngineClientState, Logger } from '../../../src/engine-client';
import type { EngineClient } from '../../../src/engine-client';
import type { ContextPayload, EngineConfig } from '../../../src/shared/protocol';

export const root = path.resolve(__dirname, '../../..');
export const modelDir = path.join(root, 'models/default');

/** Builds engine-child.js + engine-worker.js into out/unit-engine/<name>; returns the child's path. */
export async function buildEngine(name: string): Promise<string> {
  const dir = path.join(root, 'out/unit-engine', `${name}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const common: esbuild.BuildOptions = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['onnxruntime-node'], logLevel: 'error', absWorkingDir: root };
  await Promise.all([
    esbuild.build({ ...common, entryPoints: ['src/engine/child.ts'], outfile: path.join(dir, 'engine-child.js') }),
    esbuild.build({ ...common, entryPoints: ['src/engine/worker.ts'], outfile: path.join(dir, 'engine-worker.js') }),
  ]);
  return path.join(dir, 'engine-child.js');
}

export function removeBuild(childPath: string): void {
  fs.rmSync(path.dirname(childPath), { recursive: true, force: true });
}

export const realConfig = (over: Partial<EngineConfig> = {}): EngineConfig => ({
  modelDir,
  executionProvider: 'cpu',
  policy: 'tokenbutler',
  budget: 64,
  maxContextTokens: 4096,
  maxNewTokens: 8,
  ...over,
});

/** A logger that keeps every line (the extension's output channel, for assertions). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

export function waitForState(client: EngineClient, pred: (s: EngineClientState) => boolean, ms: number): Promise<EngineClientState> {
  if (pred(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`engine state after ${ms} ms: ${JSON.stringify(client.state)}`));
    }, ms);
    const sub = client.onDidChangeState((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

/** A context of roughly `lines` lines of plausible TypeScript (about 12 tokens a line). */
export function bigContext(lines: number, tag = ''): ContextPayload {
  const body = Array.from({ length: lines }, (_, i) => `export const value${tag}${i} = compute(${i}, "item ${i}");`).join('\n');
  return { files: [{ file: `src/big${tag}.ts`, text: body }], current: { file: 'src/main.ts', prefix: `import { value${tag}1 } from './big${tag}';\nconst x = `, suffix: '\n' } };
}
