// Privacy in real VS Code.
// 1. No network: the engine child is restarted with the no-network guard preloaded
//    (NODE_OPTIONS=--require test/fixtures/no-network.cjs, inherited by its worker thread), then
//    completes, explains and warms up; nothing may try to connect (the guard reports attempts on
//    the child's stderr, which the extension logs) and the process holds no TCP/UDP socket. In the
//    extension host, Node's networking entry points are wrapped for the duration and no call may
//    come from our code (dist/extension.js).
// 2. Secrets never enter the context: `.env*`, keys, certificates, gitignored and files.exclude'd
//    files are planted, imported by the current file, opened as tabs and edited (so they are open,
//    recently edited and unsaved), and every payload sent to the engine is checked.
// (Workspace trust cannot be toggled in this harness, which runs code-server with
// --disable-workspace-trust: the untrusted case is covered on the assembler, with trusted: false,
// in test/unit/context/assemble.test.ts.)
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import type { ContextPayload } from '../../../src/shared/protocol';
import { EXTENSION_ID, waitForEngineState } from '../helpers';
import { closeAll, editorSuite, endOf, open, placeCursor, provide, until } from '../editor/editor-helpers';
import { inetSockets, removeWorkspacePath, writeWorkspaceFile } from './hardening-helpers';

/** Wraps Node's networking entry points in this process; records calls whose stack shows `marker`
 *  (our bundle, or our sources when the host maps stacks through source maps). */
function watchNetwork(marker: RegExp): { calls: string[]; restore(): void } {
  const calls: string[] = [];
  const restores: (() => void)[] = [];
  // The modules themselves (shared with every caller), not a bundler's read-only namespace copies.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the mutable modules, which `import` would not give
  const [net, tls, http, https, dns, dgram] = ['net', 'tls', 'http', 'https', 'dns', 'dgram'].map((m) => require(`node:${m}`));
  const wrap = (owner: Record<string, unknown>, name: string, label: string) => {
    const original = owner[name];
    if (typeof original !== 'function') return;
    owner[name] = function (this: unknown, ...args: unknown[]) {
      const stack = new Error().stack ?? '';
      if (marker.test(stack)) calls.push(`${label}: ${stack.split('\n').slice(1, 6).join(' | ')}`);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    restores.push(() => (owner[name] = original));
  };
  wrap(net.Socket.prototype as unknown as Record<string, unknown>, 'connect', 'net.Socket.connect');
  wrap(net as unknown as Record<string, unknown>, 'connect', 'net.connect');
  wrap(net as unknown as Record<string, unknown>, 'createConnection', 'net.createConnection');
  wrap(tls as unknown as Record<string, unknown>, 'connect', 'tls.connect');
  wrap(http as unknown as Record<string, unknown>, 'request', 'http.request');
  wrap(http as unknown as Record<string, unknown>, 'get', 'http.get');
  wrap(https as unknown as Record<string, unknown>, 'request', 'https.request');
  wrap(https as unknown as Record<string, unknown>, 'get', 'https.get');
  wrap(dns as unknown as Record<string, unknown>, 'lookup', 'dns.lookup');
  wrap(dgram as unknown as Record<string, unknown>, 'createSocket', 'dgram.createSocket');
  wrap(globalThis as unknown as Record<string, unknown>, 'fetch', 'fetch');
  return { calls, restore: () => restores.forEach((r) => r()) };
}

const SECRET = 'PLANTED-SECRET';
const planted: Record<string, string> = {
  '.env': `API_KEY=${SECRET}-env\n`,
  '.env.local': `TOKEN=${SECRET}-env-local\n`,
  'config/server.key': `-----BEGIN PRIVATE KEY-----\n${SECRET}-key\n-----END PRIVATE KEY-----\n`,
  'config/cert.pem': `-----BEGIN CERTIFICATE-----\n${SECRET}-cert\n-----END CERTIFICATE-----\n`,
  'config/id_rsa': `${SECRET}-ssh\n`,
  'src/credentials.ts': `export const pem = \`-----BEGIN RSA PRIVATE KEY-----\n${SECRET}-inline-key\n-----END RSA PRIVATE KEY-----\`;\n`,
  'ignored/token.ts': `export const token = "${SECRET}-gitignored";\n`,
  'excluded/hidden.ts': `export const hidden = "${SECRET}-excluded";\n`,
  '.gitignore': 'ignored/\n',
};
const CURRENT = 'src/consumer.ts';
const currentText = [
  "import { token } from '../ignored/token';",
  "import { hidden } from '../excluded/hidden';",
  "import { pem } from './credentials';",
  "import '../.env';",
  "import { distance } from './geometry';",
  '',
  'export function use(): string {',
  '  return ',
].join('\n');

suite('Hardening: privacy', () => {
  let api: TokenButlerApi;
  editorSuite((a) => (api = a));

  suiteSetup(async () => {
    for (const [rel, text] of Object.entries(planted)) writeWorkspaceFile(rel, text);
    writeWorkspaceFile(CURRENT, currentText);
    await vscode.workspace.getConfiguration('files').update('exclude', { '**/excluded': true }, vscode.ConfigurationTarget.Workspace);
  });
  suiteTeardown(async () => {
    await vscode.workspace.getConfiguration('files').update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
    await Promise.all([...Object.keys(planted), CURRENT, 'ignored', 'excluded', 'config', '.vscode'].map((rel) => removeWorkspacePath(rel)));
  });
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.files.revertAll').then(undefined, () => undefined);
    await closeAll();
  });

  test('neither the engine (child + worker) nor the extension opens a network connection', async () => {
    const root = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    const guard = path.join(root, 'test/fixtures/no-network.cjs');
    assert.ok(fs.existsSync(guard));
    const previous = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${previous ?? ''} --require ${guard}`.trim();
    const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const watch = watchNetwork(new RegExp(`${escaped}/(dist/extension\\.js|src/)`));
    const from = api.log.lines().length;
    try {
      await vscode.commands.executeCommand('tokenbutler.restartEngine');
      await waitForEngineState(api, (s) => s.kind === 'ready', 120_000);
      const pid = api.engine.pid!;
      assert.match(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'), /NODE_OPTIONS=[^\0]*no-network\.cjs/, 'the child runs with the guard');

      // Everything that talks to the engine: completion, accept (warmup), explain, highlights.
      const editor = await open('src/main.ts');
      const pos = endOf(editor.document);
      placeCursor(editor, pos);
      const r = await provide(api, editor.document, pos);
      assert.ok(r.event, 'completed');
      await api.engine.warmup(r.event.context.payload);
      await api.highlights.setEnabled(true);
      await provide(api, editor.document, pos);
      await api.highlights.setEnabled(false);
      editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(120));
      await vscode.commands.executeCommand('tokenbutler.explainSelection');
      const sockets = inetSockets(pid);
      assert.deepStrictEqual(sockets, [], 'the engine holds no TCP/UDP socket');
      const attempts = api.log.lines().slice(from).filter((l) => l.includes('NETWORK-ATTEMPT') || l.includes('network access is forbidden'));
      assert.deepStrictEqual(attempts, [], 'no network attempt from the engine');
      assert.deepStrictEqual(watch.calls, [], 'no network call from the extension');
    } finally {
      watch.restore();
      if (previous === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = previous;
      await vscode.commands.executeCommand('workbench.action.closePanel');
      await vscode.commands.executeCommand('tokenbutler.restartEngine');
      await waitForEngineState(api, (s) => s.kind === 'ready', 120_000);
    }
  });

  test('secrets, keys, certificates, gitignored and excluded files never reach the engine, even open, edited and imported', async () => {
    // Record every payload the extension sends to the engine.
    const engine = api.engine;
    const sent: ContextPayload[] = [];
    const complete = engine.complete;
    const warmup = engine.warmup;
    const explain = engine.explain;
    engine.complete = function (this: typeof engine, ...args: Parameters<typeof complete>) {
      sent.push(args[0]);
      return complete.apply(this, args);
    } as typeof complete;
    engine.warmup = function (this: typeof engine, ...args: Parameters<typeof warmup>) {
      sent.push(args[0]);
      return warmup.apply(this, args);
    } as typeof warmup;
    engine.explain = function (this: typeof engine, ...args: Parameters<typeof explain>) {
      sent.push(args[0]);
      return explain.apply(this, args);
    } as typeof explain;
    try {
      // Open every planted file as a tab and edit it (open + recently edited + unsaved).
      for (const rel of Object.keys(planted).filter((f) => f !== '.gitignore')) {
        const e = await open(rel, vscode.ViewColumn.Two, true);
        await e.edit((b) => b.insert(new vscode.Position(0, 0), `// edited ${SECRET}-edit\n`));
      }
      const editor = await open(CURRENT);
      const pos = endOf(editor.document);
      placeCursor(editor, pos);
      const r = await provide(api, editor.document, pos);
      assert.ok(r.event, 'completed');
      const skipped = Object.fromEntries(r.event.context.skipped.map((s) => [s.file, s.reason]));
      console.log(`    skipped: ${JSON.stringify(skipped)}`);
      assert.strictEqual(skipped['.env'], 'secret');
      assert.strictEqual(skipped['ignored/token.ts'], 'gitignored');
      assert.strictEqual(skipped['excluded/hidden.ts'], 'excluded');
      assert.strictEqual(skipped['src/credentials.ts'], 'private-key');
      assert.ok(r.event.context.files.includes('src/geometry.ts'), 'ordinary imports are still placed');

      // A secret file as the current document: nothing is sent at all.
      const env = await open('.env');
      const envReq = await provide(api, env.document, endOf(env.document));
      assert.strictEqual(envReq.event, undefined, 'no request from a .env editor');
      // Explain in the current file (its context is assembled the same way).
      const again = await vscode.window.showTextDocument(editor.document, vscode.ViewColumn.One);
      again.selection = new vscode.Selection(new vscode.Position(6, 0), pos);
      await vscode.commands.executeCommand('tokenbutler.explainSelection');
      await until(() => sent.length >= 2, 30_000, 'the explain request');
    } finally {
      engine.complete = complete;
      engine.warmup = warmup;
      engine.explain = explain;
    }
    assert.ok(sent.length >= 2);
    for (const payload of sent) {
      const files = payload.files.map((f) => f.file);
      for (const bad of Object.keys(planted).filter((f) => f !== '.gitignore')) assert.ok(!files.includes(bad), `${bad} was sent`);
      const text = JSON.stringify(payload);
      assert.ok(!text.includes(SECRET), `a planted secret was sent: …${text.slice(Math.max(0, text.indexOf(SECRET) - 80), text.indexOf(SECRET) + 40)}…`);
    }
  });
});
