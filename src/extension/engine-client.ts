// Talks to the engine child process (dist/engine-child.js): typed requests with ids and timeouts,
// cancellation, crash restarts with exponential backoff, and a visible state.
//
// No vscode import on purpose: the parts that need VS Code (output channel, cancellation token)
// are passed in as small structural types, so this file can be unit-tested with a real child.
import { fork, type ChildProcess } from 'node:child_process';
import type {
  CompleteResult,
  ContextPayload,
  EngineConfig,
  EngineEvent,
  ExplainResult,
  Policy,
  Request,
  Response,
} from '../shared/protocol';
import { isResponse } from '../shared/protocol-guards';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The shape of vscode.CancellationToken that we use. */
export interface CancellationTokenLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export interface Disposable {
  dispose(): void;
}

export type EngineClientState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'loading'; detail?: string }
  | { kind: 'prefilling'; done: number; total: number }
  | { kind: 'ready'; detail?: string }
  | { kind: 'error'; detail: string; /** the model could not be loaded (configure failed) */ configure?: boolean }
  | { kind: 'restarting'; reason: string; delayMs: number; crashes: number }
  | { kind: 'failed'; reason: string };

export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}
export class EngineTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineTimeoutError';
  }
}
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

type JobType = 'configure' | 'complete' | 'explain' | 'warmup';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Outgoing = DistributiveOmit<Request, 'id'>;

export interface EngineClientOptions {
  /** Absolute path of dist/engine-child.js. */
  childPath: string;
  logger: Logger;
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
  /** Restart policy after crashes. Defaults: 500 ms doubling up to 30 s; give up after 5 crashes in 2 min. */
  backoff?: Partial<{ initialMs: number; maxMs: number; maxCrashes: number; windowMs: number }>;
  /** How long `shutdown` waits for the child to exit before killing it. Default 2000 ms. */
  shutdownGraceMs?: number;
  /** Per-request timeouts in ms. */
  timeouts?: Partial<Record<JobType, number>>;
}

export interface RequestOptions {
  token?: CancellationTokenLike;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUTS: Record<JobType, number> = {
  configure: 180_000, // loading a model on a busy CPU
  complete: 30_000,
  explain: 120_000,
  warmup: 300_000, // cold prefill of a long context
};

interface Pending {
  type: JobType;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  tokenListener?: { dispose(): void };
}

export class EngineClient implements Disposable {
  private child: ChildProcess | undefined;
  private currentState: EngineClientState = { kind: 'stopped' };
  private readonly stateListeners = new Set<(state: EngineClientState) => void>();
  private readonly eventListeners = new Set<(event: EngineEvent) => void>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private config: EngineConfig | undefined;
  private crashTimes: number[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastErrorDetail: string | undefined;
  private stderrTail: string[] = [];
  private readonly backoff: { initialMs: number; maxMs: number; maxCrashes: number; windowMs: number };

  constructor(private readonly options: EngineClientOptions) {
    this.backoff = { initialMs: 500, maxMs: 30_000, maxCrashes: 5, windowMs: 120_000, ...options.backoff };
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
    extra: { policy?: Policy; budget?: number; maxNewTokens?: number; multiline?: boolean; editorNames?: string[] } = {},
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

  /** Manual restart: forgets the crash history (so a user can retry after "gave up"). */
  async restart(): Promise<void> {
    this.options.logger.info('engine: restart requested');
    await this.shutdown();
    this.crashTimes = [];
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
    this.rejectAll(() => new CancelledError('engine shutting down'));
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    this.post({ id: this.nextId++, type: 'shutdown' });
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

  private request(message: Exclude<Outgoing, { type: 'cancel' | 'shutdown' }>, options: RequestOptions = {}): Promise<unknown> {
    const type = message.type as JobType;
    if (options.token?.isCancellationRequested) return Promise.reject(new CancelledError());
    if (!this.child || this.child.exitCode !== null) {
      return Promise.reject(new EngineError(`engine not running (${describeState(this.currentState)})`));
    }
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.options.timeouts?.[type] ?? DEFAULT_TIMEOUTS[type];
      const timer = setTimeout(() => {
        if (!this.settle(id)) return;
        this.post({ id: this.nextId++, type: 'cancel', target: id });
        reject(new EngineTimeoutError(`engine ${type} request ${id} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: Pending = { type, resolve, reject, timer };
      this.pending.set(id, entry);
      if (options.token) {
        entry.tokenListener = options.token.onCancellationRequested(() => {
          if (!this.settle(id)) return;
          this.post({ id: this.nextId++, type: 'cancel', target: id });
          reject(new CancelledError());
        });
      }
      this.post({ ...message, id } as Request);
    });
  }

  /** Removes a pending request; false if it was already settled. */
  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.tokenListener?.dispose();
    return entry;
  }

  private rejectAll(makeError: () => Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(makeError());
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

  private async sendConfig(options?: RequestOptions): Promise<void> {
    const config = this.config;
    if (!config) return;
    if (this.currentState.kind !== 'error') this.setState({ kind: 'loading', detail: 'loading model' });
    const child = this.child;
    try {
      await this.request({ type: 'configure', config }, options);
      const kind = this.currentState.kind;
      if (kind === 'loading' || kind === 'starting') this.setState({ kind: 'ready' });
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
      child = fork(childPath, [], {
        // The extension host may run with --inspect etc.; the child must not inherit that.
        execArgv: [],
        serialization: 'advanced',
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        // In desktop VS Code process.execPath is Electron: make it behave as plain Node.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...this.options.env },
      });
    } catch (e) {
      this.onExit(undefined, `could not start ${childPath}: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    logger.info(`engine: started child ${child.pid} (${childPath})`);
    pipeLines(child.stdout, (line) => logger.info(`[engine] ${line}`));
    pipeLines(child.stderr, (line) => {
      logger.warn(`[engine] ${line}`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
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
    this.rejectAll(() => new EngineError(`engine ${how}`));
    if (this.stopping) {
      this.options.logger.info(`engine: child ${child?.pid ?? '?'} ${how}`);
      this.setState({ kind: 'stopped' });
      return;
    }
    this.options.logger.error(`engine: child ${child?.pid ?? '?'} ${how}${reason !== how ? ` (${reason})` : ''}`);
    const now = Date.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.backoff.windowMs);
    this.crashTimes.push(now);
    const crashes = this.crashTimes.length;
    if (crashes >= this.backoff.maxCrashes) {
      const minutes = Math.round(this.backoff.windowMs / 60_000);
      const why = `engine crashed ${crashes} times within ${minutes} min; not restarting. Last: ${reason}`;
      this.options.logger.error(`engine: ${why}`);
      this.setState({ kind: 'failed', reason: why });
      return;
    }
    const delayMs = Math.min(this.backoff.initialMs * 2 ** (crashes - 1), this.backoff.maxMs);
    this.options.logger.warn(`engine: restarting in ${delayMs} ms (crash ${crashes} of ${this.backoff.maxCrashes} allowed)`);
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
    if (message.type === 'event') {
      this.onEvent(message.event);
      return;
    }
    this.onResponse(message);
  }

  private onResponse(message: Exclude<Response, { type: 'event' }>): void {
    const entry = this.settle(message.id);
    if (!entry) return; // cancelled or timed out on our side already
    if (message.type === 'result') entry.resolve(message.result);
    else if (message.cancelled) entry.reject(new CancelledError(message.message));
    else entry.reject(new EngineError(message.message));
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
          this.setState({ kind: 'ready', detail: event.detail });
        } else {
          this.setState({ kind: 'loading', detail: event.detail });
        }
        break;
      case 'progress':
        if (event.done >= event.total) {
          if (this.currentState.kind === 'prefilling') this.setState({ kind: 'ready' });
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

export function describeState(state: EngineClientState): string {
  switch (state.kind) {
    case 'loading':
      return state.detail ? `loading (${state.detail})` : 'loading';
    case 'prefilling':
      return state.total > 0 ? `prefilling ${Math.floor((100 * state.done) / state.total)}%` : 'prefilling';
    case 'error':
      return `error: ${state.detail}`;
    case 'restarting':
      return `restarting in ${state.delayMs} ms: ${state.reason}`;
    case 'failed':
      return `failed: ${state.reason}`;
    default:
      return state.kind;
  }
}

const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      // onnxruntime colours its stderr; the output channel shows the escapes as text.
      const line = buffered.slice(0, nl).replace(ANSI_ESCAPE, '').trimEnd();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(line);
    }
  });
  stream.on('end', () => {
    if (buffered.trim()) onLine(buffered.replace(ANSI_ESCAPE, '').trimEnd());
  });
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v).slice(0, 200);
  } catch {
    return String(v);
  }
}
