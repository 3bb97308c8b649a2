// The engine CLI and the engine itself against bad input: broken model folders give one clear
// line and a non-zero exit; hostile documents complete without crashing; nothing touches the network.
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, Hooks } from '../../../src/engine/engine';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const modelDir = path.join(root, 'models/default');
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
let ws: string;

async function cliRun(args: string[], extraNode: string[] = []) {
  try {
    const r = await run(process.execPath, [...extraNode, cli, ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function brokenModel(mutate: (dir: string) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-model-'));
  cpSync(modelDir, dir, { recursive: true });
  mutate(dir);
  return dir;
}

beforeAll(async () => {
  await run(process.execPath, [path.join(root, 'esbuild.mjs')]);
  ws = mkdtempSync(path.join(tmpdir(), 'tb-ws-'));
  mkdirSync(path.join(ws, 'src'));
  writeFileSync(path.join(ws, 'src/util.ts'), 'export function twice(n: number): number {\n  return n * 2;\n}\n');
  writeFileSync(path.join(ws, 'src/main.ts'), "import { twice } from './util';\n\nconst x = tw\n");
  writeFileSync(path.join(ws, '.env'), 'API_KEY=sk-live-PLANTED-SECRET\n');
}, 60_000);

describe('bad model folders give one clear line and exit non-zero', () => {
  const args = () => ['complete', '--workspace', ws, '--file', 'src/main.ts', '--line', '3', '--column', '13', '--json'];

  it('a corrupt graph file', async () => {
    const dir = brokenModel((d) => {
      const m = JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8'));
      const f = path.join(d, m.graphs.dense);
      const buf = readFileSync(f);
      buf[buf.length >> 1] ^= 0xff;
      writeFileSync(f, buf);
    });
    const r = await cliRun([...args(), '--model', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/corrupt/);
    expect(r.stdout).toBe('');
  });

  it('a missing manifest', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-empty-'));
    const r = await cliRun([...args(), '--model', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no manifest\.json/);
  });

  it('a manifest that does not match the graphs', async () => {
    const dir = brokenModel((d) => {
      const p = path.join(d, 'manifest.json');
      const m = JSON.parse(readFileSync(p, 'utf8'));
      m.config.n_layers += 1;
      writeFileSync(p, JSON.stringify(m));
    });
    const r = await cliRun([...args(), '--model', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match/);
  });

  it('a truncated graph whose hash was updated (not a valid ONNX file)', async () => {
    const dir = brokenModel((d) => {
      const p = path.join(d, 'manifest.json');
      const m = JSON.parse(readFileSync(p, 'utf8'));
      const f = path.join(d, m.graphs.sparse);
      writeFileSync(f, readFileSync(f).subarray(0, 1000));
      m.files[m.graphs.sparse] = createHash('sha256').update(readFileSync(f)).digest('hex');
      writeFileSync(p, JSON.stringify(m));
    });
    const r = await cliRun([...args(), '--model', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not load the model graphs/);
  });

  it('usage errors exit 2 with the usage text', async () => {
    const r = await cliRun(['complete', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --workspace|missing --line/);
  });
});

describe('privacy', () => {
  it('a completion opens no network connection and never reads .env', async () => {
    const r = await cliRun(['complete', '--workspace', ws, '--file', 'src/main.ts', '--line', '3', '--column', '13', '--json', '--max-new-tokens', '4'],
      ['--require', path.join(root, 'test/fixtures/no-network.cjs')]);
    expect(r.stderr).not.toMatch(/NETWORK-ATTEMPT/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.contextFiles).toEqual(['src/util.ts', 'src/main.ts']);
    expect(r.stdout).not.toMatch(/PLANTED-SECRET/);
  });

  it('the no-network guard itself works (a test that could fail)', async () => {
    const r = await run(process.execPath, ['--require', path.join(root, 'test/fixtures/no-network.cjs'), '-e',
      "try { require('net').connect(9, '127.0.0.1') } catch (e) { process.exit(3) }"]).catch((e) => e);
    expect((r as { code: number }).code).toBe(3);
  });
});

describe('hostile documents', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = new Engine();
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 64, maxContextTokens: 4096, maxNewTokens: 4 }, hooks);
  }, 60_000);

  it('lone surrogates, a 1 MB line, NULs and literal special tokens complete without throwing, within the token cap', async () => {
    const hostile = 'const a = "\ud800\udc00\ud800 lone \udfff";\n' + 'x'.repeat(1 << 20) + '\n\u0000\u0000 <|endoftext|><|fim_prefix|>\nlet b = ';
    const r = await engine.complete({ context: { files: [{ file: 'weird.ts', text: hostile }], current: { file: 'cur.ts', prefix: hostile, suffix: '\ud800' } } }, hooks);
    expect(typeof r.completion).toBe('string');
    expect(r.contextTokens).toBeLessThanOrEqual(4096 + 16);
  }, 120_000);

  it('an empty document completes', async () => {
    const r = await engine.complete({ context: { files: [], current: { file: 'empty.ts', prefix: '', suffix: '' } } }, hooks);
    expect(r.contextTokens).toBeGreaterThan(0);
  });

  it('a cancelled request stops and the next one reuses the cache', async () => {
    const ctx = { files: [{ file: 'a.ts', text: 'export const x = 1;\n'.repeat(400) }], current: { file: 'b.ts', prefix: 'const y = ', suffix: '' } };
    let calls = 0;
    await expect(engine.complete({ context: ctx }, { emit: () => undefined, cancelled: () => ++calls > 2 })).rejects.toThrow(/cancelled/);
    const r = await engine.complete({ context: ctx }, hooks);
    expect(r.reusedTokens).toBeGreaterThan(0);
  }, 120_000);
});

describe('sampling', () => {
  it('greedy is deterministic; seeded sampling is reproducible and can differ from greedy', async () => {
    const engine = new Engine();
    await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 2048, maxNewTokens: 12 }, hooks);
    const ctx = { files: [], current: { file: 'a.ts', prefix: 'export function add(a: number, b: number) {\n  return ', suffix: '\n}\n' } };
    const g1 = await engine.complete({ context: ctx }, hooks);
    const g2 = await engine.complete({ context: ctx }, hooks);
    expect(g2.completion).toBe(g1.completion);
    const s1 = await engine.complete({ context: ctx, sampling: { temperature: 1.5, topP: 1, seed: 7 } }, hooks);
    const s2 = await engine.complete({ context: ctx, sampling: { temperature: 1.5, topP: 1, seed: 7 } }, hooks);
    expect(s2.completion).toBe(s1.completion);
    const others = await Promise.all([1, 2, 3].map((seed) => engine.complete({ context: ctx, sampling: { temperature: 1.5, seed } }, hooks)));
    expect(new Set([g1.completion, s1.completion, ...others.map((o) => o.completion)]).size).toBeGreaterThan(1);
  }, 120_000);
});
