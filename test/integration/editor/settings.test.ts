// Setting changes reach the editor features: policy (the engine's result reports it), enable and
// enabledLanguages (no completions), debounceMs (the provider waits that long).
import * as assert from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { sleep, waitForEngineState } from '../helpers';
import { closeAll, editorSuite, endOf, open, placeCursor, provide, typeImportedName, until, withSettings } from './editor-helpers';

suite('Editor: settings', () => {
  let api: TokenButlerApi;

  editorSuite((a) => (api = a));

  teardown(closeAll);

  for (const policy of ['dense', 'window'] as const) {
    test(`tokenbutler.policy = ${policy} reaches the engine: the next completion reports it`, async () => {
      const editor = await open('src/main.ts');
      const pos = endOf(editor.document);
      placeCursor(editor, pos);
      await withSettings({ policy }, async () => {
        await until(() => api.engine.configuration?.policy === policy, 5000, 'the configuration push');
        const { event } = await provide(api, editor.document, pos);
        assert.ok(event);
        assert.strictEqual(event.result.policy, policy);
      });
      // below the model's crossover a tokenbutler completion decodes dense unless its selection is shown
      const { event } = await provide(api, editor.document, pos);
      assert.strictEqual(event?.result.policy, 'dense', 'back to the default: tokenbutler, dense below the crossover');
      await api.highlights.setEnabled(true);
      try {
        const shown = await provide(api, editor.document, pos);
        assert.strictEqual(shown.event?.result.policy, 'tokenbutler', 'back to the default, with the highlight on');
      } finally {
        await api.highlights.setEnabled(false);
      }
    });
  }

  test('tokenbutler.budget reaches the engine', async () => {
    const editor = await open('src/main.ts');
    const pos = await typeImportedName(editor);
    await api.highlights.setEnabled(true); // TokenButler selects below the model's crossover too
    try {
      await withSettings({ budget: 32 }, async () => {
        const { event } = await provide(api, editor.document, pos);
        assert.strictEqual(event?.result.budget, 32);
        assert.ok(event.result.attended > 0 && event.result.attended < event.result.contextTokens, `sparse: attended ${event.result.attended}`);
      });
    } finally {
      await api.highlights.setEnabled(false);
    }
  });

  test('tokenbutler.prefill and tokenbutler.predictionInterval reach the engine', async () => {
    const editor = await open('src/main.ts');
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    await withSettings({ prefill: 'dense', predictionInterval: 3 }, async () => {
      await until(() => api.engine.configuration?.prefill === 'dense' && api.engine.configuration?.predictionInterval === 3, 5000, 'the configuration push');
      const { event } = await provide(api, editor.document, pos);
      assert.strictEqual(event?.result.prefill, 'dense');
      assert.strictEqual(event?.result.predictionInterval, 3);
    });
    await until(() => api.engine.configuration?.prefill === 'sparse', 5000, 'the configuration push');
    const { event } = await provide(api, editor.document, pos);
    assert.strictEqual(event?.result.prefill, 'sparse', 'back to the default');
    assert.strictEqual(event?.result.predictionInterval, 4, 'back to the default');
  });

  test('tokenbutler.contextualSparsity and its keep share reach the engine; the completion says what decode computed', async () => {
    const editor = await open('src/main.ts');
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    const manifest = JSON.parse(readFileSync(path.join(api.engine.configuration!.modelDir, 'manifest.json'), 'utf8'));
    await withSettings({ contextualSparsity: 'neurons', contextualSparsityKeep: 0.5 }, async () => {
      await until(() => api.engine.configuration?.contextualSparsity === 'neurons' && api.engine.configuration?.contextualKeep === 0.5, 5000, 'the configuration push');
      const { event } = await provide(api, editor.document, pos);
      assert.ok(event);
      if (manifest.shadow) {
        // the bundled model ships the ShadowLLM graphs: half of each masked layer's FFN neurons, every head
        assert.deepStrictEqual(event.result.contextual, {
          mode: 'neurons', layers: manifest.shadow.layers,
          heads: { kept: manifest.config.n_heads, of: manifest.config.n_heads },
          neurons: { kept: Math.round(manifest.config.ffn_dim / 2), of: manifest.config.ffn_dim },
        });
      } else {
        assert.strictEqual(event.result.contextual, undefined, 'a model without a ShadowLLM predictor runs dense in heads and neurons');
      }
    });
    await until(() => (api.engine.configuration?.contextualSparsity ?? 'off') === 'off', 5000, 'the configuration push');
    const { event } = await provide(api, editor.document, pos);
    assert.strictEqual(event?.result.contextual, undefined, 'back to the default: off');
  });

  test('the status bar menu switches the policy: it writes tokenbutler.policy and the engine gets it', async () => {
    const next = () => vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
    const accept = () => vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const menu = vscode.commands.executeCommand('tokenbutler.statusMenu');
    try {
      await sleep(500);
      await next(); // "Switch Policy…"
      await accept();
      await sleep(500);
      await next(); // tokenbutler (current) → dense
      await accept();
      await menu;
      assert.strictEqual(vscode.workspace.getConfiguration('tokenbutler').get('policy'), 'dense');
      await until(() => api.engine.configuration?.policy === 'dense', 5000, 'the configuration push');
    } finally {
      await vscode.workspace.getConfiguration('tokenbutler').update('policy', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('tokenbutler.enable = false: no completions, no requests', async () => {
    const editor = await open('src/main.ts');
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    await withSettings({ enable: false }, async () => {
      await waitForEngineState(api, (s) => s.kind === 'stopped', 10_000);
      const r = await provide(api, editor.document, pos);
      assert.strictEqual(r.items, undefined);
      assert.strictEqual(r.event, undefined);
    });
    await waitForEngineState(api, (s) => s.kind === 'ready', 180_000);
    const r = await provide(api, editor.document, pos);
    assert.ok(r.event, 'completions resume when enabled again');
  });

  test('tokenbutler.enabledLanguages switches a language off', async () => {
    const editor = await open('src/main.ts');
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    await withSettings({ enabledLanguages: { '*': true, typescript: false } }, async () => {
      const r = await provide(api, editor.document, pos);
      assert.strictEqual(r.event, undefined);
    });
  });

  test('tokenbutler.debounceMs: an automatic trigger waits that long first', async () => {
    const editor = await open('src/main.ts');
    const pos = endOf(editor.document);
    placeCursor(editor, pos);
    await withSettings({ debounceMs: 700 }, async () => {
      const r = await provide(api, editor.document, pos, vscode.InlineCompletionTriggerKind.Automatic);
      assert.ok(r.event, 'the engine was asked');
      assert.ok(r.ms >= 700, `waited ${r.ms} ms`);
    });
  });
});
