// Bad model folders and execution providers through the extension's engine client and the real
// engine child: one clear message in the state (what the status bar and the notification show),
// flagged as a model-loading failure, and no restart loop (restarting would not fix the files). An
// execution provider that cannot load falls back to the CPU, with the reason in the log (the
// "TokenButler" output channel). The CLI side of bad models is in test/unit/engine/robustness.test.ts.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient, type EngineClientState } from '../../../src/engine-client';
import { buildEngine, memoryLogger, modelDir, realConfig, removeBuild, waitForState } from './real-engine';

let childPath: string;
const dirs: string[] = [];
beforeAll(async () => {
  childPath = await buildEngine('bad-model');
});
afterAll(() => {
  removeBuild(childPath);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const clients: EngineClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown()));
});

/** The parts of manifest.json the cases below change. */
type ManifestJson = { graphs: { dense: string; sparse: string }; config: { n_layers: number } };

function brokenModel(mutate: (dir: string, manifest: ManifestJson) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-bad-model-'));
  dirs.push(dir);
  cpSync(modelDir, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  mutate(dir, manifest);
  return dir;
}

async function start(config: ReturnType<typeof realConfig>) {
  const logger = memoryLogger();
  const client = new EngineClient({ childPath, logger });
  clients.push(client);
  const states: EngineClientState[] = [];
  client.onDidChangeState((s) => states.push(s));
  await client.configure(config);
  client.start();
  const state = await waitForState(client, (s) => s.kind === 'ready' || (s.kind === 'error' && s.configure === true), 120_000);
  return { client, logger, states, state };
}

describe('bad model folders: a clear error state, no restart loop', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a missing folder', () => path.join(tmpdir(), 'tb-no-such-model'), /has no manifest\.json/],
    ['a corrupt graph', () => brokenModel((d, m) => {
      const f = path.join(d, m.graphs.dense);
      const buf = readFileSync(f);
      buf[buf.length >> 1] ^= 0xff;
      writeFileSync(f, buf);
    }), /dense\.int8\.onnx .* is corrupt \(sha256 differs from manifest\.json\)/],
    ['a missing tokenizer', () => brokenModel((d) => rmSync(path.join(d, 'tokenizer.json'))), /model file tokenizer\.json is missing/],
    ['a manifest that does not match the graphs', () => brokenModel((d, m) => {
      m.config.n_layers += 1;
      writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(m));
    }), /graph .* does not match manifest config/],
    ['a manifest that is not JSON', () => brokenModel((d) => writeFileSync(path.join(d, 'manifest.json'), '{ "format": 1, ')), /not valid JSON/],
  ];
  for (const [name, make, why] of cases) {
    it(name, async () => {
      const { client, states, state, logger } = await start(realConfig({ modelDir: make() }));
      expect(state.kind).toBe('error');
      expect(state.kind === 'error' && state.detail).toMatch(why);
      expect(state.kind === 'error' && state.detail.split('\n')).toHaveLength(1); // one line, no stack
      await new Promise((r) => setTimeout(r, 300));
      expect(states.some((s) => s.kind === 'restarting' || s.kind === 'failed')).toBe(false);
      expect(client.pid).toBeTypeOf('number'); // the child stays up and answers with the reason
      await expect(client.complete({ files: [], current: { file: 'a.ts', prefix: 'x', suffix: '' } }, 'd')).rejects.toThrow(/not configured/);
      expect(logger.lines.some((l) => l.startsWith('error engine: configure failed:') && why.test(l))).toBe(true);
      // Fixing the setting recovers without a restart.
      await client.configure(realConfig());
      await waitForState(client, (s) => s.kind === 'ready', 60_000);
    }, 180_000);
  }
});

describe('an execution provider that cannot load', () => {
  it('executionProvider = cuda on a machine without CUDA: falls back to the CPU and logs why', async () => {
    const { client, state, logger } = await start(realConfig({ executionProvider: 'cuda' }));
    expect(state.kind).toBe('ready');
    const log = logger.lines.join('\n');
    expect(log).toMatch(/warn \[engine\] execution provider cuda unavailable \(.+\); falling back/);
    expect(log).toMatch(/\[engine\] execution provider: using cpu/);
    expect(log).toMatch(/model .* loaded in \d+ ms on cpu/);
    expect(log).not.toMatch(/\x1b\[/); // onnxruntime's coloured stderr arrives as plain text
    await expect(client.complete({ files: [], current: { file: 'a.ts', prefix: 'const a = ', suffix: '' } }, 'd', { maxNewTokens: 2 })).resolves.toMatchObject({
      completion: expect.any(String),
    });
  }, 180_000);
});
