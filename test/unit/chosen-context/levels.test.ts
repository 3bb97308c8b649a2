import { describe, expect, it } from 'vitest';
import { bucketScores, LEVEL_LEGEND, scoreLevel } from '../../../src/chosen-context/levels';

describe('score levels', () => {
  it('three levels relative to the strongest score', () => {
    expect([0.9, 0.6, 0.5, 0.2, 0].map((s) => scoreLevel(s, 0.9))).toEqual([2, 2, 1, 0, 0]);
    expect(scoreLevel(0.5, 0)).toBe(0);
    expect(bucketScores([{ score: 0.3 }, { score: 0.05 }, { score: 0.15 }]).map((r) => r.level)).toEqual([2, 0, 1]);
  });

  it('the legend states the thresholds scoreLevel uses', () => {
    expect(LEVEL_LEGEND).toContain('**high**: score ≥ 2/3');
    expect(LEVEL_LEGEND).toContain('**medium**: ≥ 1/3');
    expect([scoreLevel(2 / 3, 1), scoreLevel(0.66, 1), scoreLevel(1 / 3, 1), scoreLevel(0.33, 1)]).toEqual([2, 1, 1, 0]);
  });
});
