// Adaptive debounce (after Tabby): wait about as long as the user's typing rhythm suggests they
// are still typing, minus what the engine will take anyway. Fast typists and slow engines get
// short waits; a pause after punctuation or at the end of a line is a good moment to ask, and
// a member access just opened at the line end (`this.`) is the moment a user waits for the names.
import { inStringOrComment } from '../engine/monitors/triggers';

/** Focus changes and cursor moves within this window send one warmup (src/extension/focus-warmup.ts:
 *  switching through tabs sends none for the tabs passed, a cursor held down on an arrow key none
 *  for the lines passed). */
export const FOCUS_WARMUP_DEBOUNCE_MS = 400;

export interface Clock {
  now(): number; // ms
}

export interface DebounceOptions {
  /** Fixed delay in ms; > 0 switches adaptation off (the user configured a value). */
  fixedMs?: number;
  clock?: Clock;
  /** Timer used by `wait`; injectable for tests. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface TriggerContext {
  afterPunctuation?: boolean; // the character before the cursor is punctuation ('.', '(', ',', ...)
  atLineEnd?: boolean; // nothing but whitespace right of the cursor
  /** a member access was just opened (`this.`, `opts?.`, `f().`) with nothing right of the cursor:
   *  the moment a user waits for the names, so the wait is MIN_DELAY_MS whatever the rhythm */
  memberAccess?: boolean;
}

export const MIN_DELAY_MS = 100;
export const MAX_DELAY_MS = 1000;
const TYPING_MIN_MS = 100; // the average typing interval is clamped to this range
const TYPING_MAX_MS = 400;
const DEFAULT_TYPING_MS = 200; // before we have seen any keystrokes
const PAUSE_MS = 2000; // longer gaps are pauses, not typing rhythm
const TYPING_SAMPLES = 20;
const LATENCY_SAMPLES = 10;
const FACTOR_MAX = 3.0; // mid-line, mid-word: probably still typing
const FACTOR_MIN = 1.5; // after punctuation at the line end: probably waiting for us

export class AdaptiveDebouncer {
  private last?: number;
  private intervals: number[] = [];
  private latencies: number[] = [];
  private readonly clock: Clock;

  constructor(private readonly o: DebounceOptions = {}) {
    this.clock = o.clock ?? { now: () => Date.now() };
  }

  /** Call on every edit of the document (a keystroke). */
  recordKeystroke(): void {
    const now = this.clock.now();
    if (this.last !== undefined) {
      const gap = now - this.last;
      if (gap > 0 && gap <= PAUSE_MS) push(this.intervals, gap, TYPING_SAMPLES);
    }
    this.last = now;
  }

  /** Call with the time from request to result of each completion. */
  recordLatency(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) push(this.latencies, ms, LATENCY_SAMPLES);
  }

  delayMs(ctx: TriggerContext = {}): number {
    if (this.o.fixedMs !== undefined && this.o.fixedMs > 0) return this.o.fixedMs;
    if (ctx.memberAccess) return MIN_DELAY_MS;
    const typing = clamp(mean(this.intervals) ?? DEFAULT_TYPING_MS, TYPING_MIN_MS, TYPING_MAX_MS);
    const score = (ctx.afterPunctuation ? 0.5 : 0) + (ctx.atLineEnd ? 0.5 : 0);
    const factor = FACTOR_MAX - (FACTOR_MAX - FACTOR_MIN) * score;
    const latency = mean(this.latencies) ?? 0;
    return Math.round(clamp(typing * factor - latency, MIN_DELAY_MS, MAX_DELAY_MS));
  }

  /** Sleep for delayMs(ctx); resolves false if the signal aborts first (the user typed on). */
  wait(ctx: TriggerContext = {}, signal?: AbortSignal): Promise<boolean> {
    const setTimer = this.o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    const clearTimer = this.o.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const onAbort = () => {
        clearTimer(handle);
        resolve(false);
      };
      const handle = setTimer(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      }, this.delayMs(ctx));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Trigger context from the text around the cursor. */
export function triggerContextOf(prefix: string, suffix: string): TriggerContext {
  const before = prefix[prefix.length - 1] ?? '';
  const nl = suffix.indexOf('\n');
  const rest = nl < 0 ? suffix : suffix.slice(0, nl);
  const atLineEnd = rest.trim() === '';
  const ctx: TriggerContext = { afterPunctuation: /[.,;:(){}[\]<>=+\-*/&|!?'"`]/.test(before), atLineEnd };
  // `x.`, `x?.`, `f().`, `a[0].`; not `1.` or a sentence's full stop in a comment or string
  if (atLineEnd && /(?:[A-Za-z_$][\w$]*|[)\]])\??\.$/.test(prefix) && !inStringOrComment(prefix) && !/^\s*(\*|\/\*)/.test(prefix.slice(prefix.lastIndexOf('\n') + 1))) ctx.memberAccess = true;
  return ctx;
}

function push(list: number[], v: number, max: number): void {
  list.push(v);
  if (list.length > max) list.shift();
}

function mean(list: number[]): number | undefined {
  return list.length ? list.reduce((a, b) => a + b, 0) / list.length : undefined;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
