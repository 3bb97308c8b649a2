// Explain Selection in real VS Code: the panel opens with the selected tokens, policy and budget,
// the spans are highlighted in the editors, links open the file, and no selection says so.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { ExplainOutcome } from '../../../src/extension/explain-panel';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { waitForEngineState } from '../helpers';
import { closeAll, editorSuite, open, until, withSettings } from './editor-helpers';

suite('Editor: Explain Selection', () => {
  let api: TokenButlerApi;

  editorSuite((a) => (api = a));

  teardown(async () => {
    api.explain.dispose();
    api.highlights.clear();
    await closeAll();
  });

  test('without a selection it explains nothing (and says so)', async () => {
    const editor = await open('src/main.ts');
    editor.selection = new vscode.Selection(2, 0, 2, 0);
    const outcome = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    assert.strictEqual(outcome, undefined);
    assert.strictEqual(api.explain.isOpen, false);
  });

  test('with the engine off it explains nothing (and says why)', async () => {
    const editor = await open('src/main.ts');
    editor.selection = new vscode.Selection(0, 0, 1, 0);
    await withSettings({ enable: false }, async () => {
      await waitForEngineState(api, (s) => s.kind === 'stopped', 10_000);
      const outcome = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
      assert.strictEqual(outcome, undefined);
      assert.strictEqual(api.explain.isOpen, false);
    });
    await waitForEngineState(api, (s) => s.kind === 'ready', 180_000);
  });

  test('with a selection it opens the panel with the tokens, policy, budget and context links', async () => {
    const editor = await open('src/main.ts');
    const line = editor.document.getText().split('\n').findIndex((l) => l.includes('translate(ORIGIN'));
    const text = editor.document.lineAt(line).text;
    const start = text.indexOf('new Rectangle');
    editor.selection = new vscode.Selection(line, start, line, text.length);
    const selected = editor.document.getText(editor.selection);

    const outcome = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    assert.ok(outcome, 'the command returned a result');
    assert.ok(outcome.tokens > 0, `tokens: ${outcome.tokens}`);
    assert.strictEqual(outcome.policy, 'tokenbutler');
    assert.strictEqual(outcome.budget, 512);
    assert.ok(api.explain.isOpen, 'panel open');

    const html = api.explain.lastHtml;
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src [^;]+; script-src 'nonce-[^']+'"/);
    const tokens = html.slice(html.indexOf('<div id="tokens"'), html.indexOf('</div>', html.indexOf('<div id="tokens"')));
    assert.strictEqual((tokens.match(/class="tok s\d/g) ?? []).length, outcome.tokens, 'one coloured span per token');
    const tokenText = [...tokens.matchAll(/data-detail="[^"]*">(.*?)<\/span>(?=<span class="tok|$)/gs)].map((m) => m[1]).join('');
    assert.strictEqual(decode(tokenText.replace(/<span class="nl">↵<\/span>/g, '')), selected, 'the tokens spell the selection');
    assert.match(html, /<dd id="policy">tokenbutler<\/dd>/);
    assert.match(html, /<dd id="budget">512<\/dd>/);
    assert.strictEqual((html.match(/data-span="/g) ?? []).length, outcome.spans);
  });

  test('the panel opens at once with a progress bar, then the result replaces it in the same panel', async () => {
    const editor = await open('src/shapes.ts');
    editor.selection = new vscode.Selection(2, 0, 6, 0);
    const created = api.explain.panelsCreated;
    const outcome = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    assert.ok(outcome && outcome.tokens > 0);
    assert.deepStrictEqual(api.explain.pages.map((p) => p.kind), ['working', 'result']);
    const pending = api.explain.pages[0].html;
    assert.match(pending, /<span class="where">src\/shapes\.ts:3<\/span>/);
    assert.match(pending, /<progress id="progress"/);
    assert.match(pending, /<button id="cancel"/);
    assert.strictEqual(api.explain.panelsCreated, created + 1, 'one panel for both pages');
    assert.ok(api.explain.pages[0].ms <= api.explain.pages[1].ms);
    console.log(`    explain: pending page at ${api.explain.pages[0].ms.toFixed(1)} ms, result at ${api.explain.pages[1].ms.toFixed(1)} ms (${outcome.tokens} tokens)`);
  });

  test('Cancel in the panel stops the request and the panel says so', async () => {
    const editor = await open('src/shapes.ts');
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount, 0);
    const running = vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    await until(() => api.explain.pages.length > 0, 10_000, 'the pending page');
    api.explain.cancel();
    assert.strictEqual(await running, undefined);
    assert.deepStrictEqual(api.explain.pages.map((p) => p.kind), ['working', 'cancelled']);
    assert.ok(api.explain.isOpen);
    assert.match(api.explain.lastHtml, /Cancelled\./);
    // The engine is free again: the next Explain answers.
    editor.selection = new vscode.Selection(2, 0, 3, 0);
    const next = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    assert.ok(next && next.tokens > 0);
  });

  test('closing the panel while it works cancels the request and does not reopen it', async () => {
    const editor = await open('src/shapes.ts');
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount, 0);
    const running = vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    await until(() => api.explain.pages.length > 0, 10_000, 'the pending page');
    api.explain.dispose();
    assert.strictEqual(await running, undefined);
    assert.strictEqual(api.explain.isOpen, false);
  });

  test('its spans are highlighted, and a link opens the file at the span', async () => {
    const editor = await open('src/shapes.ts');
    const line = editor.document.getText().split('\n').findIndex((l) => l.includes('total += distance('));
    editor.selection = new vscode.Selection(line, 0, line + 1, 0);
    const outcome = await vscode.commands.executeCommand<ExplainOutcome | undefined>('tokenbutler.explainSelection');
    assert.ok(outcome && outcome.spans > 0, `spans: ${outcome?.spans}`);
    assert.ok(api.highlights.snapshot().length > 0, 'highlights drawn even with the toggle off');
    const link = /data-span="0" title="Open ([^"]+)"/.exec(api.explain.lastHtml);
    assert.ok(link, 'first link present');
    const [file, l] = link[1].split(':');
    await api.explain.openSpan(0);
    await until(() => vscode.window.activeTextEditor?.document.uri.path.endsWith(`/${file}`) === true, 5000, `${file} to open`);
    assert.strictEqual(vscode.window.activeTextEditor!.selection.active.line, Number(l) - 1);
  });
});

function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}
