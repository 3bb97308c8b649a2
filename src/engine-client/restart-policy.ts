// When to restart the engine after a crash: after initialMs, doubling up to maxMs, until
// maxCrashes crashes fall within windowMs; then give up (a manual restart resets the count).
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  maxCrashes: number;
  windowMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, maxCrashes: 5, windowMs: 120_000 };

export class CrashBackoff {
  readonly options: BackoffOptions;
  private crashTimes: number[] = [];

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  /** Records a crash; `delayMs` is the wait before the next start, undefined to give up. */
  recordCrash(now = Date.now()): { crashes: number; delayMs?: number } {
    const { initialMs, maxMs, maxCrashes, windowMs } = this.options;
    this.crashTimes = this.crashTimes.filter((t) => now - t < windowMs);
    this.crashTimes.push(now);
    const crashes = this.crashTimes.length;
    if (crashes >= maxCrashes) return { crashes };
    return { crashes, delayMs: Math.min(initialMs * 2 ** (crashes - 1), maxMs) };
  }

  /** Forgets the crash history. */
  reset(): void {
    this.crashTimes = [];
  }
}
