import { describe, expect, it } from 'vitest';
import { NameSet } from '../../../../src/engine/monitors/names';

describe('NameSet: which tokens keep an identifier on the way to a valid name', () => {
  const names = new NameSet(['radius', 'radiusSquared', 'area', 'perimeter', 'not an identifier']);

  it('keeps only identifier names', () => {
    expect(names.size).toBe(4);
    expect(names.has('not an identifier')).toBe(false);
  });

  it('allows a token that is a prefix of a name, and one more token that continues it (a name spans several tokens)', () => {
    expect(names.allows('', 'ra')).toBe(true);
    expect(names.allows('ra', 'di')).toBe(true);
    expect(names.allows('radi', 'us')).toBe(true);
    expect(names.allows('radius', 'Squ')).toBe(true);
    expect(names.allows('', 'rad' + 'x')).toBe(false);
    expect(names.allows('ra', 'x')).toBe(false);
  });

  it('allows a token that runs past the end of a name only when the name is whole', () => {
    expect(names.allows('rad', 'ius)')).toBe(true); // radius + ')'
    expect(names.allows('', 'area;')).toBe(true);
    expect(names.allows('', 'are;')).toBe(false); // `are` is no name
    expect(names.allows('radius', ' *')).toBe(true); // the identifier ends
    expect(names.allows('radiu', ' *')).toBe(false);
    expect(names.completedBy('rad', 'ius)')).toBe('radius');
    expect(names.completedBy('rad', 'iu')).toBeUndefined();
  });

  it('refuses whitespace or punctuation before the name', () => {
    expect(names.allows('', ' radius')).toBe(false);
    expect(names.allows('', '(')).toBe(false);
  });

  it('lists names by prefix', () => {
    expect(names.withPrefix('radius')).toEqual(['radius', 'radiusSquared']);
    expect(names.hasPrefix('per')).toBe(true);
    expect(names.hasPrefix('q')).toBe(false);
  });
  it('bestScore: the best name a token leads to, by prefix or by completing a name before punctuation', () => {
    const set = new NameSet(['length', 'left', 'lengthy', 'right']);
    const score = new Map([['length', -1], ['left', 0], ['lengthy', -3], ['right', -0.5]]);
    expect(set.bestScore('', 'le', score)).toBe(0); // left, length, lengthy
    expect(set.bestScore('le', 'ng', score)).toBe(-1); // length, lengthy
    expect(set.bestScore('', 'length)', score)).toBe(-1); // runs past the name
    expect(set.bestScore('', 'lengt', score)).toBe(-1);
    expect(set.bestScore('', 'x', score)).toBe(-Infinity);
    expect(set.bestScore('', 'rig', score)).toBe(-0.5);
    expect(set.bestScore('', 'lefty)', score)).toBe(-Infinity); // no name `lefty`
  });
});
