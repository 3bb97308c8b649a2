// The real engine child (src/engine/child.ts, bundled here) and the real EngineClient, with a
// stand-in worker thread (test/fixtures/engine/fake-worker.js) instead of the model.
import { fork } from 'node:child_process';
import { describeState } from '../../../src/engine-client/state';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelledError,
  EngineClient,
  EngineError,
  EngineTimeoutError,
  type EngineClientOptions,
  type EngineClientState,
} from '../../../src/engine-client';
import type { ContextPayload, EngineConfig, Response } from '../../../src/shared/protocol';

const root = path.resolve(__dirname, '../../..');
const fakeWorker = path.join(root, 'test/fixtures/engine/fake-worker.js');
let tmp: string;
let childPath: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-child-'));
  childPath = path.join(tmp, 'engine-child.js');
  await esbuild.build({
    entryPoints: [path.join(root, 'src/engine/child.ts')],
    outfile: childPath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['onnxruntime-node'],
    logLevel: 'error',
  });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config: EngineConfig = { modelDir: '/fake', executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 };
const ctx = (prefix: string): ContextPayload => ({ files: [], current: { file: 'a.ts', prefix, suffix: '' } });

const clients: EngineClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown()));
});

function makeClient(worker: string | null = fakeWorker, extra: Partial<EngineClientOptions> = {}) {
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const states: EngineClientState[] = [];
  const client = new EngineClient({
    childPath,
    logger,
    env: { TOKENBUTLER_ENGINE_WORKER: worker ?? path.join(tmp, 'no-such-worker.js') },
    backoff: { initialMs: 20, maxMs: 100, maxCrashes: 3, windowMs: 10_000 },
    shutdownGraceMs: 1000,
    ...extra,
  });
  client.onDidChangeState((s) => states.push(s));
  clients.push(client);
  return { client, lines, states };
}

function waitFor(client: EngineClient, pred: (s: EngineClientState) => boolean, ms = 10_000): Promise<EngineClientState> {
  if (pred(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`state never matched; last: ${JSON.stringify(client.state)}`));
    }, ms);
    const sub = client.onDidChangeState((s) => {
      if (pred(s)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(s);
      }
    });
  });
}

/** A cancellation token like vscode's. */
function tokenSource() {
  const listeners = new Set<() => void>();
  const token = {
    isCancellationRequested: false,
    onCancellationRequested(l: () => void) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
  };
  return { token, cancel: () => ((token.isCancellationRequested = true), listeners.forEach((l) => l())) };
}

describe('EngineClient + engine child', () => {
  it('starts, configures and becomes ready; completes round trip', async () => {
    const { client, states } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    expect(states.map((s) => s.kind)).toContain('starting');
    expect(states.map((s) => s.kind)).toContain('loading');
    const result = await client.complete(ctx('const a = '), 'doc');
    expect(result.completion).toBe('<const a = >');
    expect(client.pid).toBeTypeOf('number');
  });

  it('reports prefill progress from worker events', async () => {
    const { client, states } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    await client.warmup(ctx('x'));
    const prefill = states.filter((s) => s.kind === 'prefilling');
    expect(prefill.length).toBeGreaterThan(0);
    expect(client.state.kind).toBe('ready');
    // the ready state names the loaded model and where it runs (the status bar tooltip shows it)
    expect(describeState(client.state)).toBe('ready, model fake-model on cpu');
  });

  it('a newer completion for the same document supersedes the running one', async () => {
    const { client } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    const first = client.complete(ctx('slow'), 'doc');
    await new Promise((r) => setTimeout(r, 60));
    const second = client.complete(ctx('fast'), 'doc');
    await expect(first).rejects.toBeInstanceOf(CancelledError);
    await expect(second).resolves.toMatchObject({ completion: '<fast>' });
  });

  it('a speculative completion (prefetch) is stopped by a request for any document, which then runs', async () => {
    const { client } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    const prefetch = client.complete(ctx('slow'), 'doc', { speculative: true });
    await new Promise((r) => setTimeout(r, 60));
    const real = client.complete(ctx('fast'), 'other');
    await expect(prefetch).rejects.toBeInstanceOf(CancelledError);
    await expect(real).resolves.toMatchObject({ completion: '<fast>' });
  });

  it('typing messages get no answer and leave the engine usable', async () => {
    const { client, lines } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    client.typing();
    client.typing(); // within TYPING_EVERY_MS: not sent
    await expect(client.complete(ctx('after typing'), 'doc')).resolves.toMatchObject({ completion: '<after typing>' });
    expect(lines.filter((l) => /malformed|ignoring/.test(l))).toEqual([]);
  });

  it('a cancellation token cancels the request at once and the engine stays usable', async () => {
    const { client } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    const { token, cancel } = tokenSource();
    const started = Date.now();
    const p = client.complete(ctx('slow'), 'doc', {}, { token });
    setTimeout(cancel, 50);
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    // The slow job needs at least 500 ms (20 x 25 ms timers, which load only lengthens): rejected
    // before then = not waited for. Typically ~55 ms; the margin is for a loaded machine.
    const cancelMs = Date.now() - started;
    console.log(`[engine-client] cancelled 50 ms in, rejected after ${cancelMs} ms`);
    expect(cancelMs).toBeLessThan(500);
    await expect(client.complete(ctx('next'), 'doc')).resolves.toMatchObject({ completion: '<next>' });
    const already = tokenSource();
    already.cancel();
    await expect(client.complete(ctx('x'), 'doc', {}, { token: already.token })).rejects.toBeInstanceOf(CancelledError);
  });

  it('times out slow requests', async () => {
    const { client } = makeClient(fakeWorker, { timeouts: { complete: 100 } });
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    await expect(client.complete(ctx('slow'), 'doc')).rejects.toBeInstanceOf(EngineTimeoutError);
    await expect(client.complete(ctx('ok'), 'doc2')).resolves.toMatchObject({ completion: '<ok>' });
  });

  it('restarts a crashed engine with backoff, re-sends the configuration, and gives up after too many crashes', async () => {
    const { client, states, lines } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    const firstPid = client.pid;
    await expect(client.complete(ctx('crash'), 'doc')).rejects.toBeInstanceOf(EngineError);
    const restarting = await waitFor(client, (s) => s.kind === 'restarting');
    expect(restarting).toMatchObject({ kind: 'restarting', delayMs: 20, crashes: 1 });
    await waitFor(client, (s) => s.kind === 'ready');
    expect(client.pid).not.toBe(firstPid);
    await expect(client.complete(ctx('alive'), 'doc')).resolves.toMatchObject({ completion: '<alive>' });

    await expect(client.complete(ctx('crash'), 'doc')).rejects.toThrow();
    expect(await waitFor(client, (s) => s.kind === 'restarting')).toMatchObject({ delayMs: 40, crashes: 2 });
    await waitFor(client, (s) => s.kind === 'ready');
    await expect(client.complete(ctx('crash'), 'doc')).rejects.toThrow();
    const failed = await waitFor(client, (s) => s.kind === 'failed');
    expect(failed.kind === 'failed' && failed.reason).toMatch(/crashed 3 times.*fake worker crash/);
    expect(states.filter((s) => s.kind === 'restarting')).toHaveLength(2);
    expect(lines.join('\n')).toContain('fake worker crash');
    await expect(client.complete(ctx('x'), 'doc')).rejects.toThrow(/not running/);

    await client.restart(); // manual restart clears the crash history
    await waitFor(client, (s) => s.kind === 'ready');
    await expect(client.complete(ctx('back'), 'doc')).resolves.toMatchObject({ completion: '<back>' });
  });

  it('a missing worker build is a clear error, not a crash loop', async () => {
    const { client, states } = makeClient(null);
    await client.configure(config);
    client.start();
    const error = await waitFor(client, (s) => s.kind === 'error');
    expect(error.kind === 'error' && error.detail).toMatch(/engine worker not built/);
    await expect(client.complete(ctx('x'), 'doc')).rejects.toThrow(/engine worker not built/);
    await new Promise((r) => setTimeout(r, 100));
    expect(states.some((s) => s.kind === 'restarting')).toBe(false);
  });

  it('shuts the child down cleanly', async () => {
    const { client, lines } = makeClient();
    await client.configure(config);
    client.start();
    await waitFor(client, (s) => s.kind === 'ready');
    const pid = client.pid!;
    const started = Date.now();
    await client.shutdown();
    console.log(`[engine-client] shutdown took ${Date.now() - started} ms`);
    // Exited by itself, not killed after the grace period (which says so in the log).
    expect(lines.filter((l) => /did not exit within|killing it/.test(l))).toEqual([]);
    expect(client.state.kind).toBe('stopped');
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('engine child on its own', () => {
  it('answers malformed messages with an error response and keeps running', async () => {
    const child = fork(childPath, [], { execArgv: [], serialization: 'advanced', env: { ...process.env, TOKENBUTLER_ENGINE_WORKER: fakeWorker }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const messages: Response[] = [];
    child.on('message', (m: Response) => messages.push(m));
    const next = (pred: (m: Response) => boolean) =>
      new Promise<Response>((resolve) => {
        const found = messages.find(pred);
        if (found) return resolve(found);
        const on = (m: Response) => pred(m) && (child.off('message', on), resolve(m));
        child.on('message', on);
      });
    child.send('garbage');
    child.send({ id: 5, type: 'complete' });
    child.send({ id: 6, type: 'frobnicate' });
    expect(await next((m) => m.type === 'error' && m.id === -1)).toMatchObject({ message: expect.stringContaining('malformed') });
    expect(await next((m) => m.type === 'error' && m.id === 5)).toMatchObject({ message: expect.stringContaining('documentKey') });
    expect(await next((m) => m.type === 'error' && m.id === 6)).toMatchObject({ message: expect.stringContaining('unknown type') });
    child.send({ id: 7, type: 'configure', config });
    expect(await next((m) => m.type === 'result' && m.id === 7)).toMatchObject({ result: { configured: '/fake' } });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.send({ id: 8, type: 'shutdown' });
    expect(await next((m) => m.type === 'result' && m.id === 8)).toBeTruthy();
    expect(await exited).toBe(0);
  });

  it('exits non-zero when the worker crashes, after answering in-flight requests', async () => {
    const child = fork(childPath, [], { execArgv: [], serialization: 'advanced', env: { ...process.env, TOKENBUTLER_ENGINE_WORKER: fakeWorker }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const messages: Response[] = [];
    child.on('message', (m: Response) => messages.push(m));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.send({ id: 1, type: 'complete', documentKey: 'a', context: ctx('crash') });
    child.send({ id: 2, type: 'complete', documentKey: 'b', context: ctx('queued') });
    expect(await exited).toBe(1);
    const errors = messages.filter((m) => m.type === 'error');
    expect(errors.map((m) => m.type === 'error' && m.id).sort()).toEqual([1, 2]);
    expect(messages.some((m) => m.type === 'event' && m.event.type === 'state' && m.event.state === 'error')).toBe(true);
  });
});
