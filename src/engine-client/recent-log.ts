// The engine's log goes to the "TokenButler" output channel; this tee also keeps the last lines in
// memory. An output channel cannot be read back, and the integration tests need to see what the
// user would (the execution-provider fallback reason, the engine's stderr) through the extension's
// API.
import type { Logger } from './host-types';

export class RecentLog implements Logger {
  private readonly recent: string[] = [];

  constructor(
    private readonly output: Logger,
    private readonly max = 500,
  ) {}

  info(message: string): void {
    this.output.info(message);
    this.keep('info', message);
  }

  warn(message: string): void {
    this.output.warn(message);
    this.keep('warn', message);
  }

  error(message: string): void {
    this.output.error(message);
    this.keep('error', message);
  }

  /** The last lines, oldest first, as "level message". */
  lines(): readonly string[] {
    return this.recent;
  }

  private keep(level: string, message: string): void {
    this.recent.push(`${level} ${message}`);
    if (this.recent.length > this.max) this.recent.splice(0, this.recent.length - this.max);
  }
}
