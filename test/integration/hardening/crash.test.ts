// Crashes and the extension host's event loop, in real VS Code: the engine child is SIGKILLed in
// the middle of a completion whose long context is being prefilled. The provider answers "no
// suggestion" without an error, the engine restarts, and the next completion arrives within 5 s.
// Repeated crashes end in the `failed` state with a notification saying why. Throughout, a timer
// in the extension host measures event-loop stalls: none may come from our work (> 50 ms).
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TokenButlerApi } from '../../../src/extension/extension';
import { sleep, waitForEngineState } from '../helpers';
import { closeAll, editorSuite, endOf, open, placeCursor, provide } from '../editor/editor-helpers';
import { StallMonitor, removeWorkspacePath, writeWorkspaceFile } from './hardening-helpers';

const BIG = 'src/hardening-big.ts';

/** ~1,500 lines of TypeScript: a long prefix to prefill (capped at half of maxContextTokens). */
function bigSource(): string {
  const out = ["import { distance, Point } from './geometry';", ''];
  for (let i = 0; i < 300; i++) {
    out.push(`export function measure${i}(points: Point[]): number {`, '  let total = 0;', `  for (let i = 1; i < points.length; i++) total += distance(points[i - 1], points[i]) * ${i};`, '  return total;', '}');
  }
  out.push('', 'export function measureAll(points: Point[]): number {', '  return ');
  return out.join('\n');
}

suite('Hardening: crashes and the event loop', () => {
  let api: TokenButlerApi;
  editorSuite((a) => (api = a));

  suiteSetup(() => {
    writeWorkspaceFile(BIG, bigSource());
  });
  suiteTeardown(() => removeWorkspacePath(BIG));
  teardown(closeAll);

  test('killed mid-prefill: the request fails on the exit, one restart, the next completion comes; no event-loop stall from us', async () => {
    const big = await open(BIG);
    const pos = endOf(big.document);
    placeCursor(big, pos);
    const monitor = await new StallMonitor().start();
    try {
      const progressed = new Promise<void>((resolve) => {
        const sub = api.engine.onDidReceiveEvent((e) => {
          if (e.type === 'progress' && e.done > 0 && e.done < e.total) {
            sub.dispose();
            resolve();
          }
        });
      });
      const pending = provide(api, big.document, pos);
      await Promise.race([progressed, sleep(60_000)]);
      assert.strictEqual(api.engine.state.kind, 'prefilling', `prefilling when killed: ${JSON.stringify(api.engine.state)}`);
      const pid = api.engine.pid!;
      const states: string[] = [];
      const watch = api.engine.onDidChangeState((s) => states.push(s.kind === 'restarting' ? `restarting ${s.delayMs} ms, crash ${s.crashes}` : s.kind));
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      // "At once" without a clock: the request fails on the child's exit, before the backoff
      // (0.5 s at the first crash) has started a new child, not on a request timeout.
      const r = await pending.then((v) => ({ ...v, childAtSettle: api.engine.pid, statesAtSettle: [...states] })); // the provider must not throw
      assert.strictEqual(r.items, undefined, 'no suggestion from a killed engine');
      console.log(`    killed mid-prefill → the request failed ${Date.now() - killedAt} ms after the kill`);
      assert.strictEqual(r.childAtSettle, undefined, `the request failed before a new child was started (states: ${r.statesAtSettle})`);
      assert.match(r.statesAtSettle.at(-1) ?? '', /^restarting \d+ ms, crash \d+$/, `failed on the exit, with the backoff pending (states: ${r.statesAtSettle})`);

      // What the user does next: keeps typing in a small file; the completion comes back.
      const main = await open('src/main.ts');
      const at = endOf(main.document);
      placeCursor(main, at);
      let next: Awaited<ReturnType<typeof provide>> | undefined;
      // The deadline only ends the loop; how soon the completion comes is a measurement.
      while (Date.now() - killedAt < 120_000 && !next?.event) {
        next = await provide(api, main.document, at);
        if (!next.event) await sleep(100);
      }
      const ms = Date.now() - killedAt;
      watch.dispose();
      console.log(`    killed mid-prefill → next completion ${ms} ms after the kill (states: ${states.join(' → ')})`);
      assert.ok(next?.event, 'a completion after the restart');
      assert.notStrictEqual(api.engine.pid, pid, 'a new engine process');
      // What load cannot change: one restart, no second crash, the new engine got ready.
      assert.strictEqual(states.filter((s) => s.startsWith('restarting')).length, 1, `one restart: ${states.join(' → ')}`);
      assert.ok(states.includes('ready'), `ready again: ${states.join(' → ')}`);

      // And the long context itself completes again (prefilled from scratch).
      const again = await provide(api, big.document, pos);
      assert.ok(again.event && again.event.result.contextTokens > 4000, 'the big file completes after the restart');
    } finally {
      await monitor.stop();
    }
    console.log(`    event loop during prefill, kill, restart, completions: ${monitor.summary()}`);
    monitor.check('prefill, kill, restart, completions');
  });

  test('repeated crashes: the engine stops restarting and says why (state, notification); Restart Engine recovers', async () => {
    await vscode.commands.executeCommand('tokenbutler.restartEngine'); // forget the earlier test's crash
    await waitForEngineState(api, (s) => s.kind === 'ready', 60_000);
    const before = api.notices.shown.length;
    for (let i = 1; i <= 5; i++) {
      await waitForEngineState(api, (s) => s.kind === 'ready' || s.kind === 'loading', 60_000);
      process.kill(api.engine.pid!, 'SIGKILL');
      await waitForEngineState(api, (s) => s.kind === (i < 5 ? 'restarting' : 'failed'), 10_000);
    }
    const state = api.engine.state;
    assert.strictEqual(state.kind, 'failed');
    assert.match(state.kind === 'failed' ? state.reason : '', /crashed 5 times within 2 min; not restarting/);
    const shown = api.notices.shown.slice(before);
    assert.strictEqual(shown.length, 1, `one notification: ${JSON.stringify(shown)}`);
    assert.match(shown[0], /^TokenButler engine stopped: engine crashed 5 times/);
    // Completions quietly give nothing while the engine is down.
    const main = await open('src/main.ts');
    const r = await provide(api, main.document, endOf(main.document));
    assert.strictEqual(r.items, undefined);
    await vscode.commands.executeCommand('tokenbutler.restartEngine');
    await waitForEngineState(api, (s) => s.kind === 'ready', 120_000);
    const after = await provide(api, main.document, endOf(main.document));
    assert.ok(after.event, 'completions again after Restart Engine');
  });
});
