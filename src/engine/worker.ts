// Inference worker thread: owns the Engine (model sessions + KV cache) and runs one job at a
// time. session.run blocks this thread, never the child's IPC thread (child.ts).
import { parentPort } from 'worker_threads';
import type { EngineEvent, Response } from '../shared/protocol';
import { CancelledError, Engine, Hooks } from './engine';
import type { WorkerJob } from './worker-protocol';

const engine = new Engine();
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

const post = (r: Response) => port.postMessage(r);
const emit = (event: EngineEvent) => post({ type: 'event', event });

async function handle(job: WorkerJob): Promise<unknown> {
  const hooks: Hooks = { emit, cancelled: () => Atomics.load(job.cancel, 0) !== 0 };
  const r = job.request;
  if (hooks.cancelled()) throw new CancelledError();
  switch (r.type) {
    case 'configure':
      return engine.configure(r.config, hooks);
    case 'complete':
      return engine.complete(r, hooks);
    case 'explain':
      return engine.explain(r, hooks);
    case 'warmup':
      return engine.warmup(r.context, hooks);
    default:
      throw new Error(`unknown request type ${(r as { type: string }).type}`);
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (job: WorkerJob) => {
  chain = chain.then(async () => {
    const id = job.request.id;
    try {
      post({ id, type: 'result', result: await handle(job) });
    } catch (e) {
      const cancelled = e instanceof CancelledError;
      if (!cancelled && job.request.type === 'configure') emit({ type: 'state', state: 'error', detail: (e as Error).message });
      post({ id, type: 'error', message: (e as Error).message ?? String(e), cancelled });
    }
  });
});
