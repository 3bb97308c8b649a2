import { describe, expect, it } from 'vitest';
import { MruList } from '../../../src/context/mru-list';

describe('MruList', () => {
  it('moves touched items to the front and keeps at most capacity', () => {
    const l = new MruList<string>(3);
    for (const x of ['a', 'b', 'c', 'a', 'd']) l.touch(x);
    expect(l.items()).toEqual(['d', 'a', 'c']);
  });
});
