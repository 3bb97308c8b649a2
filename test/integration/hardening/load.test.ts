// 1,000 keystrokes typed into a real editor with VS Code's inline suggestions on, so VS Code itself
// calls our provider at every keystroke and cancels the previous call. Checked: every keystroke
// lands in the document in order; the extension never has more than one completion request in
// flight for the document and the engine child never holds more than one running plus one queued;
// memory stays flat; the extension host's event loop is not blocked by us.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import type { EngineEvent } from '../../../src/shared/protocol';
import { closeAll, editorSuite, endOf, open, placeCursor, until } from '../editor/editor-helpers';
import { StallMonitor, removeWorkspacePath, rssMB, writeWorkspaceFile } from './hardening-helpers';

const FILE = 'src/hardening-typing.ts';

suite('Hardening: 1,000 rapid edits', () => {
  let api: TokenButlerApi;
  const setup = editorSuite((a) => (api = a));

  suiteSetup(() => {
    writeWorkspaceFile(FILE, "import { distance } from './geometry';\n\n");
  });
  suiteTeardown(() => removeWorkspacePath(FILE));
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await closeAll();
  });

  test('no lost or reordered keystrokes; one request in flight per document; bounded queue; flat memory', async () => {
    const editor = await open(FILE);
    placeCursor(editor, endOf(editor.document));
    const start = editor.document.getText();

    // Count the extension's requests in flight per document (the provider calls engine.complete).
    const engine = api.engine;
    const original = engine.complete;
    const inFlight = new Map<string, number>();
    let maxInFlight = 0;
    let requests = 0;
    engine.complete = function (this: typeof engine, ...args: Parameters<typeof original>) {
      const key = args[1];
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      maxInFlight = Math.max(maxInFlight, inFlight.get(key)!);
      requests++;
      return original.apply(this, args).finally(() => inFlight.set(key, inFlight.get(key)! - 1));
    } as typeof original;
    const queue: Extract<EngineEvent, { type: 'queue' }>[] = [];
    const sub = engine.onDidReceiveEvent((e) => e.type === 'queue' && queue.push(e));
    // And how often VS Code asked the provider (it calls the method on our object).
    const provider = api.completions;
    const provideOriginal = provider.provideInlineCompletionItems;
    let asked = 0;
    provider.provideInlineCompletionItems = function (this: typeof provider, ...args: Parameters<typeof provideOriginal>) {
      asked++;
      return provideOriginal.apply(this, args);
    } as typeof provideOriginal;

    // Letters, digits, spaces and `;`-terminated lines: nothing VS Code auto-closes or re-indents.
    const words = ['let', 'total', '=', 'distance', 'a1', 'b2', '+', 'value', '*', '3;\n', 'const', 'x9', '-', '42;\n'];
    let typed = '';
    for (let i = 0; typed.length < 1000; i++) typed += `${words[i % words.length]}${words[i % words.length].endsWith('\n') ? '' : ' '}`;
    typed = typed.slice(0, 1000);

    const pid = engine.pid!;
    const childBefore = rssMB(pid);
    const heapBefore = process.memoryUsage().heapUsed / 2 ** 20;
    const monitor = await new StallMonitor().start();
    await setup.inlineSuggest(true);
    const t0 = Date.now();
    let ms: number;
    try {
      for (const ch of typed) await vscode.commands.executeCommand('type', { text: ch });
      ms = Date.now() - t0;
      // The last keystroke must be answered: once typing pauses, a request reaches the engine.
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await until(() => requests > 0, 30_000, 'a request after the last keystroke');
      await until(() => [...inFlight.values()].every((n) => n === 0), 30_000, 'the last request to settle');
    } finally {
      await setup.inlineSuggest(false);
      await monitor.stop();
    }
    engine.complete = original;
    provider.provideInlineCompletionItems = provideOriginal;
    sub.dispose();

    assert.strictEqual(editor.document.getText(), start + typed, 'every keystroke, in order');
    const childAfter = rssMB(pid);
    const heapAfter = process.memoryUsage().heapUsed / 2 ** 20;
    const maxPerDoc = Math.max(0, ...queue.map((q) => q.perDocument));
    const maxQueued = Math.max(0, ...queue.map((q) => q.queued));
    console.log(
      `    1000 keystrokes in ${ms} ms: VS Code asked ${asked} times, ${requests} engine requests, max ${maxInFlight} in flight (extension), child max ${maxQueued} queued / ${maxPerDoc} per document; ` +
        `child RSS ${childBefore.toFixed(0)} → ${childAfter.toFixed(0)} MB, extension host heap ${heapBefore.toFixed(0)} → ${heapAfter.toFixed(0)} MB; ${monitor.summary()}`,
    );
    assert.ok(asked > 0 && requests > 0, 'VS Code asked our provider while typing');
    assert.ok(maxInFlight <= 1, `in flight per document: ${maxInFlight}`);
    // queued: at most one completion, plus the focus warmup waiting behind it at the lowest priority
    assert.ok(maxPerDoc <= 2 && maxQueued <= 2, `child queue: ${maxQueued} queued, ${maxPerDoc} per document`);
    assert.strictEqual(engine.pid, pid, 'no crash');
    assert.ok(childAfter - childBefore < 150, `child memory grew by ${(childAfter - childBefore).toFixed(0)} MB`);
    assert.ok(heapAfter - heapBefore < 100, `extension host heap grew by ${(heapAfter - heapBefore).toFixed(0)} MB`);
    monitor.check('1000 keystrokes');
  });
});
