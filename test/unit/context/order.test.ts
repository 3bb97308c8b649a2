import { describe, expect, it } from 'vitest';
import { stableOrder } from '../../../src/context/order';

describe('stableOrder (append-only)', () => {
  it('keeps previously placed files first, in their old order, and appends new ones', () => {
    expect(stableOrder(['b', 'a', 'c'], ['a', 'd', 'b', 'c'])).toEqual(['b', 'a', 'c', 'd']);
  });
  it('drops files that are no longer wanted without reordering the rest', () => {
    expect(stableOrder(['a', 'b', 'c'], ['c', 'a', 'e'])).toEqual(['a', 'c', 'e']);
  });
  it('without history uses the priority order', () => {
    expect(stableOrder(undefined, ['x', 'y'])).toEqual(['x', 'y']);
  });
  it('ignores duplicates in either list', () => {
    expect(stableOrder(['a', 'a', 'b'], ['b', 'a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
  });
});
