// Chosen-context highlights in real VS Code: the toggle command and its persisted state, spans
// drawn in another visible editor after a completion, edits clearing them, the status bar menu.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { sleep, workspaceFile } from '../helpers';
import { closeAll, editorSuite, open, provide, typeImportedName, until } from './editor-helpers';

suite('Editor: context highlight', () => {
  let api: TokenButlerApi;
  const geometry = () => workspaceFile('src/geometry.ts').toString();
  const drawnIn = (uri: string) => api.highlights.snapshot().filter((d) => d.uri === uri);

  editorSuite((a) => (api = a));

  teardown(async () => {
    if (api.highlights.enabled) await api.highlights.setEnabled(false);
    await closeAll();
  });

  test('is off by default; the toggle command flips it and returns the new state', async () => {
    assert.strictEqual(api.highlights.enabled, false);
    assert.strictEqual(await vscode.commands.executeCommand('tokenbutler.toggleContextHighlight'), true);
    assert.strictEqual(api.highlights.enabled, true);
    assert.strictEqual(await vscode.commands.executeCommand('tokenbutler.toggleContextHighlight'), false);
    assert.strictEqual(api.highlights.enabled, false);
  });

  test('after a completion, the chosen tokens of the imported file are highlighted in its visible editor', async () => {
    await open('src/geometry.ts', vscode.ViewColumn.Two, true);
    const main = await open('src/main.ts', vscode.ViewColumn.One);
    const pos = await typeImportedName(main);

    // Off: the fixture's context is below the model's crossover, so the completion decoded dense
    // (nothing shows its selection); the result is remembered but nothing is drawn.
    const { event } = await provide(api, main.document, pos);
    assert.ok(event, 'the engine was asked');
    assert.strictEqual(event.result.policy, 'dense', `below the crossover with the highlight off (${event.result.contextTokens} context tokens)`);
    assert.deepStrictEqual(api.highlights.snapshot(), []);

    // On: the last completion is replayed with TokenButler selecting (Explain over its text), and
    // its spans appear in the other editor too.
    await vscode.commands.executeCommand('tokenbutler.toggleContextHighlight');
    await until(() => drawnIn(geometry()).length === 1, 30_000, 'geometry.ts decorated after the replay');
    const drawn = drawnIn(geometry());
    assert.ok(drawn[0].ranges > 0 && drawn[0].ranges === drawn[0].buckets.reduce((a, b) => a + b, 0));
    assert.ok(drawn[0].buckets[2] > 0 || drawnIn(main.document.uri.toString())[0]?.buckets[2] > 0, 'the strongest span is in the high bucket');

    // Off again: cleared.
    await vscode.commands.executeCommand('tokenbutler.toggleContextHighlight');
    assert.deepStrictEqual(api.highlights.snapshot(), []);
  });

  test('editing a highlighted document clears its highlights (they would be stale)', async () => {
    const geo = await open('src/geometry.ts', vscode.ViewColumn.Two, true);
    const main = await open('src/main.ts', vscode.ViewColumn.One);
    await api.highlights.setEnabled(true);
    const pos = await typeImportedName(main);
    const { event } = await provide(api, main.document, pos);
    assert.strictEqual(event?.result.policy, 'tokenbutler', 'with the highlight on, TokenButler selects below the crossover too');
    assert.strictEqual(drawnIn(geometry()).length, 1);
    try {
      await geo.edit((b) => b.insert(new vscode.Position(0, 0), '// edited\n'));
      await until(() => drawnIn(geometry()).length === 0, 2000, 'highlights to clear');
    } finally {
      await vscode.window.showTextDocument(geo.document, vscode.ViewColumn.Two);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }
  });

  test('the status bar menu toggles the highlight (first entry)', async () => {
    const before = api.highlights.enabled;
    const menu = vscode.commands.executeCommand('tokenbutler.statusMenu');
    await sleep(500);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await menu;
    assert.strictEqual(api.highlights.enabled, !before);
  });
});
