// The real round trip: fixture workspace → engine child → worker → model → completion.
// These need the engine worker and the bundled model; until they exist they fail with the
// engine's own error message (that is expected).
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../src/extension/extension';
import type { CompleteResult } from '../../src/shared/protocol';
import { activateExtension, settled, sleep, waitForEngineState, workspaceFile } from './helpers';

suite('Completion round trip', () => {
  let api: TokenButlerApi;

  suiteSetup(async () => {
    ({ api } = await activateExtension());
    await waitForEngineState(api, settled, 180_000);
  });

  test('the engine is ready', () => {
    assert.strictEqual(api.engine.state.kind, 'ready', `engine state: ${JSON.stringify(api.engine.state)}`);
  });

  test('the engine completes code from the fixture workspace', async () => {
    const geometry = await vscode.workspace.fs.readFile(workspaceFile('src/geometry.ts'));
    const prefix = 'import { distance, Point } from "./geometry";\n\nexport function perimeterOf(points: Point[]): number {\n  let total = 0;\n  for (let i = 0; i < points.length; i++) {\n    total += ';
    const result: CompleteResult = await api.engine.complete(
      { files: [{ file: 'src/geometry.ts', text: Buffer.from(geometry).toString('utf8') }], current: { file: 'src/perimeter.ts', prefix, suffix: '\n  }\n  return total;\n}\n' } },
      'test:perimeter',
      { maxNewTokens: 16 },
    );
    assert.strictEqual(typeof result.completion, 'string');
    assert.ok(result.generatedTokens > 0, `generated tokens: ${JSON.stringify(result)}`);
    assert.ok(result.contextTokens > 0);
    assert.ok(result.timings && result.timings.firstTokenMs >= 0);
  });

  test('an inline suggestion is shown and accepted in the editor', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('src/main.ts'));
    const editor = await vscode.window.showTextDocument(doc);
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    await editor.edit((b) => b.insert(end, '\n\nexport function totalPerimeter(items: Shape[]): number {\n  return '));
    const before = doc.getText();
    const last = doc.lineAt(doc.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(last, last);
    // A random-weight model's suggestion may post-process to nothing: then type one more
    // character (a new prefix) and try again.
    let typedBefore = before;
    let after = before;
    for (let attempt = 0; attempt < 8 && after === typedBefore; attempt++) {
      if (attempt > 0) {
        const at = editor.selection.active;
        await editor.edit((b) => b.insert(at, 'xyzab'[attempt % 5]));
        typedBefore = doc.getText();
      }
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await sleep(2000);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      after = doc.getText();
    }
    await vscode.commands.executeCommand('workbench.action.files.revert');
    assert.notStrictEqual(after, typedBefore, 'accepting the inline suggestion inserted text');
    assert.ok(after.startsWith(typedBefore), 'text was inserted at the cursor');
  });
});
