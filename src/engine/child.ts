// Engine child process main (dist/engine-child.js), forked by the extension's engine client.
//
// Main thread: receives Requests over process IPC, queues them (scheduler.ts) and relays the
// inference worker's Responses back. The model runs in ONE worker_thread (dist/engine-worker.js)
// because session.run blocks its thread; keeping this thread free means cancel messages are seen
// at once and simply raise the job's shared cancel flag.
//
// Exit codes: 0 after `shutdown` or when the parent goes away; 1 when the worker crashed, so the
// parent restarts us.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineEvent, Response } from '../shared/protocol';
import { parseRequest } from '../shared/protocol-guards';
import { Scheduler } from './scheduler';
import type { WorkerJob, WorkerMessage } from './worker-protocol';

// TOKENBUTLER_ENGINE_WORKER lets tests run the real child with a stand-in worker.
const workerPath = process.env.TOKENBUTLER_ENGINE_WORKER || path.join(__dirname, 'engine-worker.js');

let shuttingDown = false;
let exiting = false;

function send(message: Response, callback?: () => void): void {
  if (!process.send || !process.connected) {
    callback?.();
    return;
  }
  try {
    process.send(message, undefined, undefined, () => callback?.());
  } catch {
    callback?.(); // channel closed under us: nothing left to tell
  }
}

function sendEvent(event: EngineEvent): void {
  send({ type: 'event', event });
}

/** Exit once everything sent so far has been flushed to the parent. */
function exitAfterFlush(code: number): void {
  if (exiting) return;
  exiting = true;
  const done = () => process.exit(code);
  setTimeout(done, 1000).unref();
  if (process.send && process.connected) {
    send({ type: 'event', event: { type: 'log', level: code === 0 ? 'info' : 'error', message: `engine child exiting (${code})` } }, done);
  } else done();
}

function startWorker(): { worker?: Worker; unavailable?: string } {
  if (!fs.existsSync(workerPath)) {
    return { unavailable: `engine worker not built: ${workerPath} is missing (run \`npm run build\` once src/engine/worker.ts exists)` };
  }
  try {
    return { worker: new Worker(workerPath) };
  } catch (e) {
    return { unavailable: `engine worker failed to start: ${(e as Error).message}` };
  }
}

const { worker, unavailable } = startWorker();

const scheduler = new Scheduler({
  startJob(job: WorkerJob) {
    if (!worker) {
      scheduler.onWorkerMessage({ id: job.request.id, type: 'error', message: unavailable ?? 'engine worker unavailable' });
      return;
    }
    worker.postMessage(job);
  },
  reply: (response) => send(response),
  queueChanged: (stats) => sendEvent({ type: 'queue', ...stats }),
});

function workerCrashed(reason: string): void {
  if (shuttingDown || exiting) return;
  const message = `engine worker crashed: ${reason}`;
  scheduler.failAll(message);
  sendEvent({ type: 'state', state: 'error', detail: message });
  exitAfterFlush(1);
}

if (worker) {
  worker.on('message', (message: WorkerMessage) => scheduler.onWorkerMessage(message));
  worker.on('error', (err) => workerCrashed(err.stack || err.message));
  worker.on('exit', (code) => workerCrashed(`worker thread exited with code ${code}`));
  worker.on('messageerror', (err) => sendEvent({ type: 'log', level: 'error', message: `unreadable worker message: ${err.message}` }));
} else {
  // Stay up and answer every request with the reason: restarting would not fix a missing build.
  sendEvent({ type: 'state', state: 'error', detail: unavailable });
}

async function shutdown(replyTo?: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  scheduler.failAll('engine shutting down', true);
  if (worker) await worker.terminate().catch(() => undefined);
  if (replyTo !== undefined) send({ id: replyTo, type: 'result', result: null });
  exitAfterFlush(0);
}

process.on('message', (raw: unknown) => {
  const parsed = parseRequest(raw);
  if (!parsed.ok) {
    send({ id: parsed.id, type: 'error', message: parsed.message });
    return;
  }
  const request = parsed.request;
  if (shuttingDown) {
    if (request.type !== 'cancel') send({ id: request.id, type: 'error', message: 'engine shutting down', cancelled: true });
    return;
  }
  switch (request.type) {
    case 'cancel':
      scheduler.cancel(request.target);
      break;
    case 'shutdown':
      void shutdown(request.id);
      break;
    case 'typing':
      scheduler.typing();
      break;
    default:
      scheduler.submit(request);
  }
});

// The parent (extension host) went away: nobody is left to answer.
process.on('disconnect', () => void shutdown());

process.on('uncaughtException', (err) => {
  sendEvent({ type: 'log', level: 'error', message: `engine child: ${err.stack || err.message}` });
  scheduler.failAll(`engine child crashed: ${err.message}`);
  exitAfterFlush(1);
});

if (!process.send) {
  console.error('engine-child: must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}
sendEvent({ type: 'log', level: 'info', message: `engine child ${process.pid} up (node ${process.version}, worker ${path.basename(workerPath)})` });
