// What the engine client needs from its host, as small structural types: VS Code's output channel,
// CancellationToken and Disposable fit them, and so do the unit tests' stand-ins.
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
