import { describe, expect, it } from 'vitest';
import { IDENT_FEATURES, MEMBER_FEATURES, TREE_SCORERS, enclosingBlock, features, rank as rankWith, scorerFor, scoreOf, type RankScorer, type TreeScorer } from '../../../../src/engine/monitors/rank';
import { IDENT_SCORER, MEMBER_SCORER } from '../../../../src/engine/monitors/rank-weights';
import { triggerAt, inStringOrComment } from '../../../../src/engine/monitors/triggers';
// These tests read the direction of each kind of evidence in the fitted linear scorers (rank-weights.ts);
// the shipped trees are checked on their own below.
const rankFitted = (p: Parameters<typeof rankWith>[0], o: Parameters<typeof rankWith>[1] = {}) => rankWith(p, { ...o, scorer: scorerFor(p.kind, 'fitted') });

const cls = (name: string, body: string) => `class ${name} {\n${body}\n}\n`;

const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k]) => k);

describe('ranking of candidate names by what the context says about them', () => {
  it('has one fitted weight per feature, in the linear part and in each hidden unit', () => {
    for (const [sc, names] of [[MEMBER_SCORER, MEMBER_FEATURES], [IDENT_SCORER, IDENT_FEATURES]] as const) {
      expect(sc.linear.length).toBe(names.length);
      for (const row of sc.hidden?.w ?? []) expect(row.length).toBe(names.length);
      expect(sc.hidden?.b.length ?? 0).toBe(sc.hidden?.out.length ?? 0);
      expect([...sc.linear, ...(sc.hidden?.w.flat() ?? []), ...(sc.hidden?.b ?? []), ...(sc.hidden?.out ?? [])].every(Number.isFinite)).toBe(true);
    }
  });

  it('ships trees over the features of each kind, with finite splits and leaves, and ranks with them by default', () => {
    for (const [sc, names] of [[TREE_SCORERS.member, MEMBER_FEATURES], [TREE_SCORERS.ident, IDENT_FEATURES]] as const) {
      expect(sc.features).toBe(names.length);
      expect(sc.trees.length).toBeGreaterThan(10);
      expect(sc.scale).toBeGreaterThan(0);
      for (const t of sc.trees) {
        expect(t.f.every((f) => Number.isInteger(f) && f >= 0 && f < names.length)).toBe(true);
        expect([...t.t, ...t.v].every(Number.isFinite)).toBe(true);
        expect(t.v.length).toBe(t.f.length + 1); // a binary tree: one leaf more than its splits
      }
    }
    expect(scorerFor('member')).toBe(TREE_SCORERS.member);
    expect(scorerFor('ident', 'fitted')).toBe(IDENT_SCORER);
  });

  it('scores trees as the sum of the leaves each vector reaches, times the scale', () => {
    // v[0] <= 1 ? (v[1] <= 0 ? 10 : 20) : 30; and a tree of one leaf (5)
    const sc: TreeScorer = { features: 2, scale: 0.5, trees: [{ f: [0, 1], t: [1, 0], l: [1, ~0], r: [~2, ~1], v: [10, 20, 30] }, { f: [], t: [], l: [], r: [], v: [5] }] };
    expect(scoreOf(sc, [0, 0])).toBe((10 + 5) * 0.5);
    expect(scoreOf(sc, [1, 3])).toBe((20 + 5) * 0.5);
    expect(scoreOf(sc, [2, 0])).toBe((30 + 5) * 0.5);
  });

  it('the trees put the name a receiver took most, and last, first', () => {
    const s = rankWith({ kind: 'member', receiver: 'ps', before: 'ps.prefix;\nps.suffix;\nps.suffix;\nx = ps.', after: '', files: [] });
    expect(top(s)[0]).toBe('suffix');
  });

  it('scores linear + out · tanh(w v + b)', () => {
    const sc: RankScorer = { linear: [1, -2], hidden: { w: [[0.5, 0], [0, 1]], b: [0, -1], out: [2, 3] } };
    expect(scoreOf(sc, [2, 1])).toBeCloseTo(2 - 2 + 2 * Math.tanh(1) + 3 * Math.tanh(0));
    expect(scoreOf({ linear: [1, -2] }, [2, 1])).toBe(0);
  });

  it('scores are 0 for the best name and negative for the rest', () => {
    const s = rankFitted({ kind: 'member', receiver: 'ps', before: 'ps.prefix;\nps.suffix;\nps.suffix;\nx = ps.', after: '', files: [] });
    expect(Math.max(...s.values())).toBe(0);
    expect(top(s)[0]).toBe('suffix');
    expect(s.get('prefix')!).toBeLessThan(0);
  });

  it('weights the enclosing class above `this` of another class in the same file', () => {
    const before = cls('Other', '  f() { return this.foreign + this.foreign + this.foreign; }') +
      'class Cache {\n  get(k) {\n    return this._cache.get(k);\n  }\n  has(k) {\n    return this.';
    const s = rankFitted({ kind: 'member', receiver: 'this', before, after: '\n  }\n}\n', files: [] });
    expect(top(s)[0]).toBe('_cache');
    expect(s.get('foreign') ?? -Infinity).toBeLessThan(s.get('_cache')!);
  });

  it('an occurrence in the enclosing function outweighs one elsewhere in the file', () => {
    const s = rankFitted({ kind: 'member', receiver: 'a', before: 'function f() {\n  g(a.near);\n  return a.', after: '\n}\n' + 'x;\n'.repeat(20) + 'h(a.far);\n', files: [] });
    expect(top(s)[0]).toBe('near');
  });

  it('names in the current file outweigh names only in other files', () => {
    const s = rankFitted({ kind: 'member', receiver: 'api', before: 'api.get(1);\nreturn api.', after: '', files: [{ text: 'api.post(2); api.post(3); api.post(4);' }] });
    expect(top(s)).toEqual(['get', 'post']);
  });

  it('copies what followed the same context before over what came last (`p.x = q.` after `p.x = q.left`)', () => {
    const s = rankFitted({ kind: 'member', receiver: 'q', before: 'p.x = q.left;\np.y = q.top;\np.x = q.', after: '', files: [] });
    expect(top(s)[0]).toBe('left');
  });

  it('marks what the language service offers and what it does not (the fit weighs it: in JavaScript its offer is evidence; in TypeScript the monitor masks)', () => {
    const before = 'o.alpha;\no.beta;\nreturn o.';
    const at = (f: Map<string, number[]>, name: string, feature: string) => f.get(name)![MEMBER_FEATURES.indexOf(feature as (typeof MEMBER_FEATURES)[number])];
    expect(top(rankFitted({ kind: 'member', receiver: 'o', before, after: '', files: [] }))[0]).toBe('beta'); // the nearest
    const f = features({ kind: 'member', receiver: 'o', before, after: '', files: [], service: new Set(['alpha', 'gamma']) });
    expect([at(f, 'alpha', 'offered'), at(f, 'alpha', 'notOffered'), at(f, 'beta', 'offered'), at(f, 'beta', 'notOffered')]).toEqual([1, 0, 0, 1]);
    expect(f.has('gamma')).toBe(true); // offered, never read yet: still a candidate
    const none = features({ kind: 'member', receiver: 'o', before, after: '', files: [] });
    expect([at(none, 'alpha', 'offered'), at(none, 'alpha', 'notOffered')]).toEqual([0, 0]);
  });

  it('does not count the member access being generated, even when the suffix continues it', () => {
    const s = rankFitted({ kind: 'member', receiver: 'a', before: 'a.x;\nreturn a.', after: 'y;\n', files: [] });
    expect(top(s)[0]).toBe('x');
  });

  it('at an identifier start: a parameter of the enclosing function above a word of another file', () => {
    const before = 'function area(width, height) {\n  const w = Math.abs(';
    const s = rankFitted({ kind: 'ident', before, after: ');\n}\n', files: [{ text: 'elsewhere elsewhere elsewhere' }] });
    expect(top(s)[0]).toBe('width');
    expect(s.get('elsewhere') ?? -Infinity).toBeLessThan(s.get('height')!);
    expect(s.has('const')).toBe(false); // keywords are no candidates
  });

  it('keyed only: the candidates are the names that followed the same key, and none without a history', () => {
    const before = 'f(alpha);\ng(beta);\nf(gamma);\nconst x = beta;\nf(';
    expect(top(rankFitted({ kind: 'ident', before, after: '', files: [] }, { keyedOnly: true }))).toEqual(['gamma', 'alpha']);
    expect(rankFitted({ kind: 'ident', before: 'const y = 1;\nh(', after: '', files: [] }, { keyedOnly: true }).size).toBe(0);
  });

  it('finds the enclosing class by indentation', () => {
    const before = 'class A {\n  m() {\n    this.';
    const [s, e] = enclosingBlock(before, '\n  }\n}\nconst z = 1;\n', true)!;
    expect((before + '\n  }\n}\nconst z = 1;\n').slice(s, e)).toBe('class A {\n  m() {\n    this.\n  }'); // up to the line that closes it
  });
});

describe('trigger points', () => {
  it('member access with a plain receiver, mid-identifier too', () => {
    expect(triggerAt('return this._cache.')).toMatchObject({ kind: 'member', typed: '', receiver: 'this._cache' });
    expect(triggerAt('x = ps.pre')).toMatchObject({ kind: 'member', typed: 'pre', receiver: 'ps' });
    expect(triggerAt('f(a).')).toMatchObject({ kind: 'member', receiver: undefined });
    expect(triggerAt('isServer: opts?.')).toMatchObject({ kind: 'member', typed: '', receiver: 'opts' });
    expect(triggerAt('f(a)?.')).toMatchObject({ kind: 'member', receiver: undefined });
  });
  it('identifier starts in expression positions', () => {
    expect(triggerAt('foo(a, ')).toMatchObject({ kind: 'ident', typed: '' });
    expect(triggerAt('const x = ')).toMatchObject({ kind: 'ident' });
    expect(triggerAt('  return va')).toMatchObject({ kind: 'ident', typed: 'va', keyword: 'return' });
    expect(triggerAt('throw new Po')).toMatchObject({ kind: 'ident', typed: 'Po', keyword: 'new' });
    expect(triggerAt('renew ')).toBeUndefined();
  });
  it('no trigger in strings, comments, numbers, spreads or declarations', () => {
    expect(triggerAt('s = "a.')).toBeUndefined();
    expect(triggerAt('// see foo.')).toBeUndefined();
    expect(triggerAt('x = 1.')).toBeUndefined();
    expect(triggerAt('f(...')).toBeUndefined();
    expect(triggerAt('const ')).toBeUndefined();
    expect(triggerAt('} catch (')).toBeUndefined();
    expect(triggerAt('} catch(er')).toBeUndefined();
    expect(triggerAt('catch (')).toBeUndefined();
    expect(triggerAt('p.catch(')).toMatchObject({ kind: 'ident' }); // a promise's catch takes a handler
    expect(triggerAt('fetch(')).toMatchObject({ kind: 'ident' });
    expect(triggerAt('noCatch(')).toMatchObject({ kind: 'ident' });
    expect(triggerAt('export * ')).toBeUndefined();
    expect(triggerAt('import * ')).toBeUndefined();
    expect(triggerAt('function* ')).toBeUndefined();
    expect(triggerAt('x = a * ')).toMatchObject({ kind: 'ident' });
    expect(triggerAt('reexport * ')).toMatchObject({ kind: 'ident' });
    expect(inStringOrComment("a = 'it''s' + b")).toBe(false);
  });
});
