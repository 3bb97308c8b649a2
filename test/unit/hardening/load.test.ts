// 1,000 rapid edits against the real engine (client → child → worker → model), the way VS Code
// drives the provider: each keystroke asks for a completion of the new text and cancels the
// previous request's token. The child's queue (reported in `queue` events) never holds more than
// one running plus one queued completion for the document, nothing piles up, every request is
// settled, the last one is answered for the last text, and the child's memory stays flat.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, EngineClient, type CancellationTokenLike } from '../../../src/engine-client';
import type { ContextPayload, EngineEvent } from '../../../src/shared/protocol';
import { buildEngine, memoryLogger, realConfig, removeBuild, waitForState } from './real-engine';

let childPath: string;
beforeAll(async () => {
  childPath = await buildEngine('load');
});
afterAll(() => removeBuild(childPath));

const clients: EngineClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown()));
});

function tokenSource() {
  const listeners = new Set<() => void>();
  const token: CancellationTokenLike & { isCancellationRequested: boolean } = {
    isCancellationRequested: false,
    onCancellationRequested(l: () => void) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
  };
  return { token, cancel: () => ((token.isCancellationRequested = true), listeners.forEach((l) => l())) };
}

const rssMB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const related = Array.from({ length: 120 }, (_, i) => `export function helper${i}(x: number): number {\n  return x + ${i};\n}`).join('\n');
const ctx = (prefix: string): ContextPayload => ({ files: [{ file: 'src/helpers.ts', text: related }], current: { file: 'src/main.ts', prefix, suffix: '\n' } });

describe('load: 1,000 rapid edits', () => {
  it('at most one running + one queued completion per document, all settled, the last text answered, memory flat', async () => {
    const client = new EngineClient({ childPath, logger: memoryLogger() });
    clients.push(client);
    const queue: Extract<EngineEvent, { type: 'queue' }>[] = [];
    client.onDidReceiveEvent((e) => e.type === 'queue' && queue.push(e));
    await client.configure(realConfig({ maxContextTokens: 4096, maxNewTokens: 16 }));
    client.start();
    await waitForState(client, (s) => s.kind === 'ready', 120_000);
    await client.complete(ctx('import { helper1 } from "./helpers";\n'), 'main', { maxNewTokens: 4 }); // warm
    const pid = client.pid!;
    const rssBefore = rssMB(pid);

    const typed = 'const total = helper1(2) + helper2(3);\nfunction twice(n: number) { return n * 2; }\n'.repeat(15).slice(0, 1000);
    let prefix = 'import { helper1 } from "./helpers";\n';
    const outcomes: Promise<string>[] = [];
    let previous: ReturnType<typeof tokenSource> | undefined;
    const t0 = Date.now();
    for (let i = 0; i < typed.length; i++) {
      prefix += typed[i];
      previous?.cancel(); // VS Code cancels the previous request's token on the next keystroke
      const source = tokenSource();
      previous = source;
      const at = prefix;
      outcomes.push(
        client.complete(ctx(at), 'main', { maxNewTokens: 16, multiline: false }, { token: source.token }).then(
          (r) => `done:${at.length}:${typeof r.completion}`,
          (e: Error) => (e instanceof CancelledError ? 'cancelled' : `error:${e.message}`),
        ),
      );
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1)); // typing, not one synchronous burst
    }
    const results = await Promise.all(outcomes);
    const ms = Date.now() - t0;
    // The child's last queue report (an event after the last answer): waited for, not slept for.
    for (const until = Date.now() + 30_000; Date.now() < until && !(queue.at(-1)?.running === 0 && queue.at(-1)?.queued === 0); ) {
      await new Promise((r) => setTimeout(r, 20));
    }

    const done = results.filter((r) => r.startsWith('done'));
    const errors = results.filter((r) => r.startsWith('error'));
    expect(errors).toEqual([]);
    expect(results.at(-1)).toBe(`done:${prefix.length}:string`); // the last keystroke got its completion
    const maxPerDoc = Math.max(...queue.map((q) => q.perDocument));
    const maxQueued = Math.max(...queue.map((q) => q.queued));
    expect(maxPerDoc).toBeLessThanOrEqual(2);
    expect(maxQueued).toBeLessThanOrEqual(1);
    expect(queue.at(-1)).toMatchObject({ running: 0, queued: 0 });
    const rssAfter = rssMB(pid);
    console.log(
      `[load] 1000 edits in ${ms} ms: ${done.length} completed, ${results.length - done.length} cancelled; child queue max ${maxQueued} queued, ${maxPerDoc} per document; child RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`,
    );
    expect(rssAfter - rssBefore).toBeLessThan(100);
  }, 300_000);

  it('without cancellation from the caller, the child itself supersedes: still one running + one queued', async () => {
    const client = new EngineClient({ childPath, logger: memoryLogger() });
    clients.push(client);
    const queue: Extract<EngineEvent, { type: 'queue' }>[] = [];
    client.onDidReceiveEvent((e) => e.type === 'queue' && queue.push(e));
    await client.configure(realConfig({ maxContextTokens: 4096, maxNewTokens: 16 }));
    client.start();
    await waitForState(client, (s) => s.kind === 'ready', 120_000);
    let prefix = 'import { helper1 } from "./helpers";\n';
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 1000; i++) {
      prefix += 'abc;\n'[i % 5];
      outcomes.push(
        client.complete(ctx(prefix), 'main', { maxNewTokens: 8 }).then(
          () => 'done',
          (e: Error) => (e instanceof CancelledError ? 'superseded' : `error:${e.message}`),
        ),
      );
    }
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r.startsWith('error'))).toEqual([]); // no "engine busy": nothing piles up
    expect(results.at(-1)).toBe('done');
    expect(Math.max(...queue.map((q) => q.perDocument))).toBeLessThanOrEqual(2);
    expect(Math.max(...queue.map((q) => q.queued))).toBeLessThanOrEqual(1);
  }, 300_000);
});
