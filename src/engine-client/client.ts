// The engine child's lifecycle as the extension sees it: start it, send the configuration on every
// (re)start, restart it after a crash with backoff (restart-policy.ts), shut it down, and turn its
// events into a visible state (state.ts). The requests themselves go through requests.ts.
import type { ChildProcess } from 'node:child_process';
import type { CompleteResult, ContextPayload, EngineConfig, EngineEvent, ExplainResult, Policy, Request } from '../shared/protocol';
import { isResponse } from '../shared/protocol-guards';
import { CancelledError, EngineError } from './errors';
import type { Disposable, Logger } from './host-types';
import { RequestTable, type JobMessage, type JobType, type RequestOptions } from './requests';
import { CrashBackoff, type BackoffOptions } from './restart-policy';
import { forkEngineChild } from './spawn';
import { describeState, type EngineClientState } from './state';

export interface EngineClientOptions {
  /** Absolute path of dist/engine-child.js. */
  childPath: string;
  logger: Logger;
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
  /** Restart policy after crashes. Defaults: 500 ms doubling up to 30 s; give up after 5 crashes in 2 min. */
  backoff?: Partial<BackoffOptions>;
  /** How long `shutdown` waits for the child to exit before killing it. Default 2000 ms. */
  shutdownGraceMs?: number;
  /** Per-request timeouts in ms. */
  timeouts?: Partial<Record<JobType, number>>;
}

/** `typing` messages are sent at most this often (the scheduler's pause is 1.5 s). */
export const TYPING_EVERY_MS = 250;

export class EngineClient implements Disposable {
  private child: ChildProcess | undefined;
  private currentState: EngineClientState = { kind: 'stopped' };
  private readonly stateListeners = new Set<(state: EngineClientState) => void>();
  private readonly eventListeners = new Set<(event: EngineEvent) => void>();
  private readonly requests: RequestTable;
  private readonly backoff: CrashBackoff;
  private config: EngineConfig | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastErrorDetail: string | undefined;
  private stderrTail: string[] = [];
  private lastTypingAt = -Infinity;

  constructor(private readonly options: EngineClientOptions) {
    this.backoff = new CrashBackoff(options.backoff);
    this.requests = new RequestTable((message) => this.post(message), options.timeouts);
  }

  get state(): EngineClientState {
    return this.currentState;
  }

  /** The configuration sent on every (re)start. */
  get configuration(): EngineConfig | undefined {
    return this.config;
  }

  /** PID of the running child, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  onDidChangeState(listener: (state: EngineClientState) => void): Disposable {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /** Raw engine events (state, progress, log) as the child sends them. */
  onDidReceiveEvent(listener: (event: EngineEvent) => void): Disposable {
    this.eventListeners.add(listener);
    return { dispose: () => this.eventListeners.delete(listener) };
  }

  /** Starts the child if it is not running. The last configuration is sent again on every start. */
  start(): void {
    if (this.child) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stopping = false;
    this.spawn();
  }

  /** Remembers the configuration (it is re-sent after restarts) and sends it if the child runs. */
  async configure(config: EngineConfig, options?: RequestOptions): Promise<void> {
    this.config = config;
    if (!this.child) return;
    await this.sendConfig(options);
  }

  complete(
    context: ContextPayload,
    documentKey: string,
    extra: { policy?: Policy; budget?: number; maxNewTokens?: number; multiline?: boolean; editorNames?: string[]; chosen?: boolean; speculative?: boolean } = {},
    options?: RequestOptions,
  ): Promise<CompleteResult> {
    return this.request({ type: 'complete', context, documentKey, ...extra }, options) as Promise<CompleteResult>;
  }

  explain(
    context: ContextPayload,
    selection: string,
    extra: { policy?: Policy; budget?: number } = {},
    options?: RequestOptions,
  ): Promise<ExplainResult> {
    return this.request({ type: 'explain', context, selection, ...extra }, options) as Promise<ExplainResult>;
  }

  warmup(context: ContextPayload, options?: RequestOptions): Promise<void> {
    return this.request({ type: 'warmup', context }, options).then(() => undefined);
  }

  /** Tells the engine the user is typing (every edit of the active editor, asked for or not), so its
   *  warmup waits for a pause. No answer; at most one per TYPING_EVERY_MS. */
  typing(): void {
    const now = Date.now();
    if (!this.child || now - this.lastTypingAt < TYPING_EVERY_MS) return;
    this.lastTypingAt = now;
    this.post({ id: this.requests.newId(), type: 'typing' });
  }

  /** Manual restart: forgets the crash history (so a user can retry after "gave up"). */
  async restart(): Promise<void> {
    this.options.logger.info('engine: restart requested');
    await this.shutdown();
    this.backoff.reset();
    this.start();
  }

  /** Asks the child to shut down, then kills it after the grace period. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) {
      this.setState({ kind: 'stopped' });
      return;
    }
    this.requests.rejectAll(() => new CancelledError('engine shutting down'));
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    this.post({ id: this.requests.newId(), type: 'shutdown' });
    const grace = this.options.shutdownGraceMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), grace))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.options.logger.warn(`engine: child ${child.pid} did not exit within ${grace} ms; killing it`);
      child.kill('SIGKILL');
      await exited;
    }
  }

  dispose(): void {
    void this.shutdown();
  }

  // ---- requests --------------------------------------------------------------------------------

  private request(message: JobMessage, options: RequestOptions = {}): Promise<unknown> {
    if (options.token?.isCancellationRequested) return Promise.reject(new CancelledError());
    if (!this.child || this.child.exitCode !== null) {
      return Promise.reject(new EngineError(`engine not running (${describeState(this.currentState)})`));
    }
    return this.requests.send(message, options);
  }

  private post(message: Request): void {
    const child = this.child;
    if (!child || !child.connected) return;
    try {
      child.send(message, (err) => {
        if (err) this.options.logger.warn(`engine: could not send ${message.type}: ${err.message}`);
      });
    } catch (e) {
      this.options.logger.warn(`engine: could not send ${message.type}: ${(e as Error).message}`);
    }
  }

  /** which model is loaded and where it runs (shown with the ready state) */
  private readyDetail?: string;

  private ready(): EngineClientState {
    return this.readyDetail ? { kind: 'ready', detail: this.readyDetail } : { kind: 'ready' };
  }

  private async sendConfig(options?: RequestOptions): Promise<void> {
    const config = this.config;
    if (!config) return;
    if (this.currentState.kind !== 'error') this.setState({ kind: 'loading', detail: 'loading model' });
    const child = this.child;
    try {
      const loaded = (await this.request({ type: 'configure', config }, options)) as { model?: string; executionProvider?: string } | undefined;
      const kind = this.currentState.kind;
      this.readyDetail = loaded?.model ? modelDetail(loaded.model, loaded.executionProvider) : undefined;
      if (kind === 'loading' || kind === 'starting' || kind === 'ready') this.setState(this.ready());
    } catch (e) {
      if (e instanceof CancelledError) return; // superseded by a newer configure, or shutting down
      // The child died while loading: onExit already set `restarting` or `failed`; keep that.
      if (this.child !== child) throw e;
      const detail = (e as Error).message;
      this.options.logger.error(`engine: configure failed: ${detail}`);
      this.setState({ kind: 'error', detail, configure: true });
      throw e;
    }
  }

  // ---- child process ---------------------------------------------------------------------------

  private spawn(): void {
    const { childPath, logger } = this.options;
    this.setState({ kind: 'starting' });
    this.lastErrorDetail = undefined;
    this.stderrTail = [];
    let child: ChildProcess;
    try {
      child = forkEngineChild(childPath, this.options.env, {
        stdout: (line) => logger.info(`[engine] ${line}`),
        stderr: (line) => {
          logger.warn(`[engine] ${line}`);
          this.stderrTail.push(line);
          if (this.stderrTail.length > 20) this.stderrTail.shift();
        },
      });
    } catch (e) {
      this.onExit(undefined, `could not start ${childPath}: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    logger.info(`engine: started child ${child.pid} (${childPath})`);
    child.on('message', (message: unknown) => this.onMessage(message));
    let ended = false;
    child.on('error', (err) => {
      logger.error(`engine: child error: ${err.message}`);
      if (!ended && child.pid === undefined) {
        ended = true; // spawn failed: no 'exit' will follow
        this.onExit(child, `could not start engine: ${err.message}`);
      }
    });
    child.on('exit', (code, signal) => {
      if (ended) return;
      ended = true;
      this.onExit(child, signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
    void this.sendConfig().catch(() => undefined);
  }

  private onExit(child: ChildProcess | undefined, how: string): void {
    if (child && this.child !== child) return; // an older child we already replaced
    this.child = undefined;
    const reason = this.lastErrorDetail ?? this.stderrTail.at(-1) ?? how;
    this.requests.rejectAll(() => new EngineError(`engine ${how}`));
    const { logger } = this.options;
    if (this.stopping) {
      logger.info(`engine: child ${child?.pid ?? '?'} ${how}`);
      this.setState({ kind: 'stopped' });
      return;
    }
    logger.error(`engine: child ${child?.pid ?? '?'} ${how}${reason !== how ? ` (${reason})` : ''}`);
    const { crashes, delayMs } = this.backoff.recordCrash();
    const { maxCrashes, windowMs } = this.backoff.options;
    if (delayMs === undefined) {
      const why = `engine crashed ${crashes} times within ${Math.round(windowMs / 60_000)} min; not restarting. Last: ${reason}`;
      logger.error(`engine: ${why}`);
      this.setState({ kind: 'failed', reason: why });
      return;
    }
    logger.warn(`engine: restarting in ${delayMs} ms (crash ${crashes} of ${maxCrashes} allowed)`);
    this.setState({ kind: 'restarting', reason, delayMs, crashes });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping && !this.child) this.spawn();
    }, delayMs);
  }

  private onMessage(message: unknown): void {
    if (!isResponse(message)) {
      this.options.logger.warn(`engine: ignoring malformed message ${safeJson(message)}`);
      return;
    }
    if (message.type === 'event') this.onEvent(message.event);
    else this.requests.answer(message);
  }

  private onEvent(event: EngineEvent): void {
    const { logger } = this.options;
    switch (event.type) {
      case 'log':
        logger[event.level](`[engine] ${event.message}`);
        break;
      case 'state':
        if (event.state === 'error') {
          this.lastErrorDetail = event.detail ?? 'engine error';
          this.setState({ kind: 'error', detail: this.lastErrorDetail });
        } else if (event.state === 'prefilling') {
          this.setState({ kind: 'prefilling', done: 0, total: 0 });
        } else if (event.state === 'ready') {
          this.lastErrorDetail = undefined;
          this.setState({ kind: 'ready', detail: event.detail ?? this.readyDetail });
        } else {
          this.setState({ kind: 'loading', detail: event.detail });
        }
        break;
      case 'progress':
        if (event.done >= event.total) {
          if (this.currentState.kind === 'prefilling') this.setState(this.ready());
        } else {
          this.setState({ kind: 'prefilling', done: event.done, total: event.total });
        }
        break;
    }
    for (const listener of this.eventListeners) listener(event);
  }

  private setState(state: EngineClientState): void {
    const before = describeState(this.currentState);
    this.currentState = state;
    const after = describeState(state);
    if (before !== after && state.kind !== 'prefilling') this.options.logger.info(`engine: state ${after}`);
    for (const listener of this.stateListeners) listener(state);
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v).slice(0, 200);
  } catch {
    return String(v);
  }
}

/** The ready state's detail: the model (its manifest name) and where it runs, e.g. `model tokenbutler-code-default on cpu`. */
export function modelDetail(model: string, executionProvider: string | undefined): string {
  return `model ${model}${executionProvider ? ` on ${executionProvider}` : ''}`;
}
