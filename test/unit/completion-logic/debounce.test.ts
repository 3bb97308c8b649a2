import { describe, expect, it } from 'vitest';
import { AdaptiveDebouncer, MAX_DELAY_MS, MIN_DELAY_MS, triggerContextOf } from '../../../src/completion-logic/debounce';

function typed(intervalsMs: number[], opts = {}) {
  let t = 1000;
  const clock = { now: () => t };
  const d = new AdaptiveDebouncer({ clock, ...opts });
  d.recordKeystroke();
  for (const gap of intervalsMs) {
    t += gap;
    d.recordKeystroke();
  }
  return d;
}

describe('AdaptiveDebouncer', () => {
  it('is average typing interval × factor (3.0 mid-line)', () => {
    expect(typed([150, 150, 150]).delayMs({})).toBe(450);
  });
  it('uses a lower factor after punctuation and at the line end (down to 1.5)', () => {
    const d = typed([200, 200]);
    expect(d.delayMs({ afterPunctuation: true })).toBe(450); // × 2.25
    expect(d.delayMs({ atLineEnd: true })).toBe(450);
    expect(d.delayMs({ afterPunctuation: true, atLineEnd: true })).toBe(300); // × 1.5
  });
  it('subtracts the average latency', () => {
    const d = typed([150, 150]);
    d.recordLatency(100);
    d.recordLatency(200);
    expect(d.delayMs({})).toBe(300);
  });
  it('clamps to 100–1000 ms', () => {
    const fast = typed([120]);
    fast.recordLatency(5000);
    expect(fast.delayMs({})).toBe(MIN_DELAY_MS);
    const slow = typed([1900, 1900]); // the typing average itself is clamped to 400 ms
    expect(slow.delayMs({})).toBe(MAX_DELAY_MS); // 400 × 3 = 1200, clamped
    expect(slow.delayMs({ afterPunctuation: true, atLineEnd: true })).toBe(600); // 400 × 1.5
  });
  it('ignores pauses when averaging the typing rhythm', () => {
    expect(typed([100, 10_000, 100]).delayMs({})).toBe(300);
  });
  it('uses a fixed delay when one is configured', () => {
    const d = typed([100], { fixedMs: 250 });
    d.recordLatency(1000);
    expect(d.delayMs({ afterPunctuation: true })).toBe(250);
    expect(typed([100], { fixedMs: 0 }).delayMs({})).toBe(300); // 0 = adaptive
  });
  it('starts from a default rhythm before any keystroke', () => {
    expect(new AdaptiveDebouncer({ clock: { now: () => 0 } }).delayMs({})).toBe(600);
  });
  it('wait resolves true after the delay, false when aborted', async () => {
    const timers: { fn: () => void; ms: number; cleared?: boolean }[] = [];
    const d = new AdaptiveDebouncer({
      fixedMs: 300,
      setTimer: (fn, ms) => timers.push({ fn, ms }) - 1,
      clearTimer: (h) => (timers[h as number].cleared = true),
    });
    const ok = d.wait({});
    expect(timers[0].ms).toBe(300);
    timers[0].fn();
    expect(await ok).toBe(true);

    const ac = new AbortController();
    const cancelled = d.wait({}, ac.signal);
    ac.abort();
    expect(await cancelled).toBe(false);
    expect(timers[1].cleared).toBe(true);
    expect(await d.wait({}, ac.signal)).toBe(false); // already aborted
  });
  it('a member access just opened at the line end waits only the minimum, whatever the rhythm', () => {
    const slow = typed([400, 400, 400]);
    expect(slow.delayMs({ afterPunctuation: true, atLineEnd: true })).toBe(600);
    expect(slow.delayMs(triggerContextOf('    return this.', ''))).toBe(MIN_DELAY_MS);
    expect(slow.delayMs(triggerContextOf('  x = opts?.', '\n}'))).toBe(MIN_DELAY_MS);
    expect(slow.delayMs(triggerContextOf('  f(a).', ''))).toBe(MIN_DELAY_MS);
    expect(slow.delayMs(triggerContextOf('  a[0].', ''))).toBe(MIN_DELAY_MS);
    // not a member access: a number, a spread, a sentence in a comment or a string, text right of the cursor
    for (const [prefix, suffix] of [['  x = 1.', ''], ['  f(...', ''], ['  // see the docs.', ''], ['   * Returns the node.', ''], ["  s = 'end.", ''], ['  this.', 'foo()']]) {
      expect(triggerContextOf(prefix, suffix).memberAccess, prefix).toBeFalsy();
    }
  });

  it('triggerContextOf reads the text around the cursor', () => {
    expect(triggerContextOf('foo.', '\nbar')).toEqual({ afterPunctuation: true, atLineEnd: true, memberAccess: true });
    expect(triggerContextOf('foo', 'bar()')).toEqual({ afterPunctuation: false, atLineEnd: false });
  });
});
