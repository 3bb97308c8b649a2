// The engine's side of the TypeScript language-service worker: started on first use, fed the
// context files when they change, queried with a deadline. Every failure (worker missing or
// crashed, a query past its deadline, an exception in the service) answers `undefined`, which
// means plain decoding for that step.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { TS_EXTENSIONS, type NamesResult, type TsFile, type TsRequest, type TsResponse } from './ts-protocol';

export { TS_EXTENSIONS };

/** The service's heap is capped: past it the worker dies and the monitor turns itself off. */
export const TS_HEAP_MB = 768;

export interface TsStats {
  readyMs?: number;
  heapMb?: number;
  files?: number;
  queries: number;
  timeouts: number;
  failed?: string;
}

/** dist/engine-ts-worker.js next to the running bundle (dist/, or out/ for the benchmarks), or
 *  from the sources' folder when run by the unit tests. */
function defaultWorkerPath(): string {
  if (process.env.TOKENBUTLER_TS_WORKER) return process.env.TOKENBUTLER_TS_WORKER;
  const tries = ['engine-ts-worker.js', '../dist/engine-ts-worker.js', '../../../dist/engine-ts-worker.js'].map((p) => path.resolve(__dirname, p));
  return tries.find((p) => existsSync(p)) ?? tries[0];
}

export class TsService {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, (r: TsResponse | undefined) => void>();
  private sent = new Map<string, string>();
  private readyWaiters: (() => void)[] = [];
  ready = false;
  readonly stats: TsStats = { queries: 0, timeouts: 0 };

  constructor(private readonly workerPath = defaultWorkerPath(), private readonly log: (m: string) => void = () => undefined) {}

  get available(): boolean {
    return !this.stats.failed;
  }

  private start(): Worker | undefined {
    if (this.worker || this.stats.failed) return this.worker;
    if (!existsSync(this.workerPath)) {
      this.stats.failed = `language-service worker not built (${this.workerPath})`;
      return undefined;
    }
    try {
      const w = new Worker(this.workerPath, { resourceLimits: { maxOldGenerationSizeMb: TS_HEAP_MB } });
      w.unref();
      w.on('message', (m: TsResponse) => {
        if (m.type === 'ready') {
          this.ready = true;
          Object.assign(this.stats, { readyMs: m.ms, heapMb: m.heapMb, files: m.files });
          for (const f of this.readyWaiters.splice(0)) f();
          return;
        }
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m);
      });
      const fail = (why: string) => {
        this.stats.failed = why;
        this.log(`language-service monitor off: ${why}`);
        for (const done of this.pending.values()) done(undefined);
        this.pending.clear();
        this.worker = undefined;
      };
      w.on('error', (e) => fail(e.message.split('\n')[0]));
      w.on('exit', (code) => { if (code !== 0 && !this.stats.failed) fail(`worker exited (${code})`); });
      this.worker = w;
      return w;
    } catch (e) {
      this.stats.failed = (e as Error).message;
      return undefined;
    }
  }

  /** Gives the service the context files (TS/JS ones; others are ignored). Only files whose text
   *  changed travel (per request that is the current document), with the names of all, so the
   *  service drops the files no longer in context. */
  setFiles(files: TsFile[]): void {
    const ts = files.filter((f) => TS_EXTENSIONS.test(f.name));
    const changed = ts.filter((f) => this.sent.get(f.name) !== f.text);
    if (!changed.length && ts.length === this.sent.size && this.worker) return;
    const w = this.start();
    if (!w) return;
    this.sent = new Map(ts.map((f) => [f.name, f.text]));
    w.postMessage({ type: 'files', files: changed, names: ts.map((f) => f.name) } satisfies TsRequest);
  }

  /** Resolves once the first file set is loaded (or after `ms`). */
  whenReady(ms: number): Promise<boolean> {
    if (this.ready || this.stats.failed) return Promise.resolve(this.ready);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.ready), ms);
      this.readyWaiters.push(() => { clearTimeout(t); resolve(true); });
    });
  }

  private ask<T extends TsResponse>(req: TsRequest & { id: number }, timeoutMs: number): Promise<T | undefined> {
    const w = this.start();
    if (!w) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(req.id);
        this.stats.timeouts++;
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(req.id, (r) => {
        clearTimeout(t);
        resolve(r as T | undefined);
      });
      w.postMessage(req);
    });
  }

  /** Names valid at `pos` of `file` (text = the document with the generated text applied).
   *  Not before the service is ready: a cold service would only make the request wait. */
  async names(file: string, text: string, pos: number, timeoutMs: number): Promise<NamesResult | undefined> {
    if (!this.ready) return undefined;
    this.stats.queries++;
    const r = await this.ask<TsResponse & { type: 'names' }>({ id: this.nextId++, type: 'names', file, text, pos, deadline: Date.now() + timeoutMs }, timeoutMs);
    return r?.error ? undefined : r?.result;
  }

  /** How many characters of `completion`, inserted between `prefix` and `suffix`, add no parse
   *  error (syntax-check.ts); undefined when unknown (service not ready, timeout, error). */
  async syntaxSafeLength(file: string, prefix: string, completion: string, suffix: string, cuts: number[], timeoutMs: number): Promise<number | undefined> {
    if (!this.ready) return undefined;
    // the search stops itself well inside the deadline; the rest is the message round trip
    const r = await this.ask<TsResponse & { type: 'syntax' }>({ id: this.nextId++, type: 'syntax', file, prefix, suffix, completion, cuts, budgetMs: timeoutMs / 2 }, timeoutMs);
    return r && !r.error && r.keep >= 0 ? r.keep : undefined;
  }

  /** What the service holds now: heap, files, the program's size (benchmarks). */
  async holding(timeoutMs: number): Promise<{ heapMb: number; files: number; programFiles: number; updateMs?: number } | undefined> {
    if (!this.ready) return undefined;
    const r = await this.ask<TsResponse & { type: 'stats' }>({ id: this.nextId++, type: 'stats' }, timeoutMs);
    return r?.type === 'stats' ? { heapMb: r.heapMb, files: r.files, programFiles: r.programFiles, updateMs: r.updateMs } : undefined;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.stats.failed ??= 'closed';
    if (w) await w.terminate();
  }
}
