// The speed bench's cost per token of a prediction interval n: fresh and re-reading steps are two
// kinds of step, so their quantiles are taken apart and weighted as a cycle has them (1 fresh,
// n - 1 re-reading); the quantile of the mixed samples would land on the border between the kinds.
import { describe, expect, it } from 'vitest';
import { BENCH_INTERVALS, cycleQuantile } from '../../../src/engine/bench';

describe('cycleQuantile', () => {
  it('weights the fresh and the re-reading steps as a cycle of the interval has them', () => {
    const fresh = [6, 6.2, 6.4, 5.8];
    const reused = [3, 3.1, 2.9, 3.2, 3.0, 2.8, 3.1];
    expect(cycleQuantile(fresh, reused, 2, 0.5)).toBeCloseTo((6.2 + 3.0) / 2, 10);
    expect(cycleQuantile(fresh, reused, 8, 0.5)).toBeCloseTo((6.2 + 7 * 3.0) / 8, 10);
  });

  it('is the plain quantile for interval 1, or when no step re-read a selection (the dense graph ran)', () => {
    expect(cycleQuantile([1, 2, 3], [], 1, 0.5)).toBe(2);
    expect(cycleQuantile([1, 2, 3], [], 4, 0.5)).toBe(2);
  });

  it('does not land on the border of alternating fresh and re-reading steps, as the mixed p50 does', () => {
    const fresh = Array.from({ length: 12 }, (_, i) => 6 + i * 0.01);
    const reused = Array.from({ length: 12 }, (_, i) => 3 + i * 0.01);
    const mixed = [...fresh, ...reused].sort((a, b) => a - b)[12]; // the bench's p50 before
    expect(mixed).toBeCloseTo(6, 5);
    expect(cycleQuantile(fresh, reused, 2, 0.5)).toBeCloseTo(4.56, 5);
  });

  it('runs intervals 2, 4 and 8 beside interval 1', () => {
    expect(BENCH_INTERVALS).toEqual([2, 4, 8]);
  });
});
