// Privacy, statically: none of the four bundles (extension, engine child, inference worker, CLI)
// imports a networking module or calls fetch/WebSocket, and neither does the JS of the one external
// runtime dependency (onnxruntime-node). The dynamic checks are in test/unit/engine/robustness.test.ts
// (CLI under the no-network guard) and test/integration/hardening/privacy.test.ts (real VS Code).
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');
const NETWORK_MODULES = /^(node:)?(net|tls|http|https|http2|dgram|dns|dns\/promises|undici|ws)$/;
const NETWORK_CALLS = /\b(fetch|WebSocket|XMLHttpRequest|EventSource)\s*\(/;

describe('no networking code is shipped', () => {
  for (const entry of ['src/extension/extension.ts', 'src/engine/child.ts', 'src/engine/worker.ts', 'src/engine/cli.ts']) {
    it(entry, async () => {
      const result = await esbuild.build({
        entryPoints: [entry],
        absWorkingDir: root,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        external: ['vscode', 'onnxruntime-node'],
        write: false,
        metafile: true,
        logLevel: 'error',
      });
      const imported = Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
      expect(imported.filter((p) => NETWORK_MODULES.test(p))).toEqual([]);
      const code = result.outputFiles[0].text;
      expect(code.match(NETWORK_CALLS)?.[0]).toBeUndefined();
    });
  }

  it('onnxruntime-node (external, shipped as is)', () => {
    const dir = path.join(root, 'node_modules/onnxruntime-node/dist');
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const code = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(code.match(/require\(["'](node:)?(net|tls|http|https|http2|dgram|dns)["']\)/)?.[0], f).toBeUndefined();
      expect(code.match(NETWORK_CALLS)?.[0], f).toBeUndefined();
    }
  });
});
