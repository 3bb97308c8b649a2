// How an engine request fails on the extension's side. CancelledError is the extension side's only
// definition (the engine has its own in src/engine/engine.ts; the two sides share the protocol's
// `cancelled` flag, not a class).
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
