// Monitor-guided decoding in real VS Code: after `this.` inside a class the suggestion names a
// member declared in that class, and after `obj.` a member of a type declared in another file of
// the workspace, because the TypeScript language service in the engine supplies the names.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { closeAll, editorSuite, endOf, open, placeCursor, provide, type Completed } from './editor-helpers';

const firstIdentifier = (s: string) => /^[A-Za-z_$][\w$]*/.exec(s.trimStart())?.[0] ?? '';

suite('Editor: suggestions name what exists', () => {
  let api: TokenButlerApi;
  editorSuite((a) => (api = a));

  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await closeAll();
  });

  /** Appends `text` to the file and asks at its end until the language service answered (its worker
   *  starts with the first TypeScript request and never delays one: the first asks may go without it). */
  async function completeAtEnd(rel: string, text: string): Promise<Completed> {
    const editor = await open(rel);
    await editor.edit((b) => b.insert(endOf(editor.document), text));
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    let last: Completed | undefined;
    for (let i = 0; i < 20; i++) {
      last = await provide(api, editor.document, pos);
      if (last.event?.result.monitor?.events[0]?.source === 'typescript') return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`the language service never supplied names: ${JSON.stringify(last?.event?.result.monitor)}`);
  }

  test('`this.` inside a class completes to a member declared in that class', async () => {
    const members = ['entries', 'hits', 'count', 'add'];
    const r = await completeAtEnd(
      'src/shapes.ts',
      '\n\nexport class Registry {\n  private readonly entries = new Map<string, Shape>();\n  private hits = 0;\n\n' +
        '  add(shape: Shape): void {\n    this.entries.set(shape.name, shape);\n  }\n\n  count(): number {\n    return this.',
    );
    const completion = r.event!.result.completion;
    assert.ok(members.includes(firstIdentifier(completion)), `completion ${JSON.stringify(completion)}: not one of ${members}`);
    const ev = r.event!.result.monitor!.events[0];
    assert.strictEqual(ev.at, 0);
    assert.ok(ev.candidates >= members.length, `the service offered ${ev.candidates} names`);
  });

  test('`obj.` completes to a member of a type declared in another file', async () => {
    // Rectangle is declared in src/shapes.ts; main.ts only imports it
    const members = ['name', 'topLeft', 'width', 'height', 'area', 'perimeter'];
    const r = await completeAtEnd('src/main.ts', '\n\nexport function describe(box: Rectangle): string {\n  const w = box.');
    const completion = r.event!.result.completion;
    assert.ok(members.includes(firstIdentifier(completion)), `completion ${JSON.stringify(completion)}: not one of ${members}`);
    assert.ok(r.event!.context.payload.files.some((f) => f.file === 'src/shapes.ts'), 'the declaring file is in the context');
  });
});
