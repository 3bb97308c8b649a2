import { describe, expect, it } from 'vitest';
import { addUses, dotUses, keyEcho, keyFollowers, lineKey, receiverWord, siblingMembers, siblingRun, startsStatement, subwords, wordShare, wordsOf } from '../../../../src/engine/monitors/name-evidence';
import { rank as rankWith, scorerFor } from '../../../../src/engine/monitors/rank';
// These tests read the direction of each kind of evidence in the fitted linear scorers (rank-weights.ts);
// the shipped trees are checked on their own (rank.test.ts).
const rankFitted = (p: Parameters<typeof rankWith>[0], o: Parameters<typeof rankWith>[1] = {}) => rankWith(p, { ...o, scorer: scorerFor(p.kind, 'fitted') });

describe('evidence from a name\'s spelling and uses', () => {
  it('splits names into lower-case words', () => {
    expect(subwords('_cacheKey')).toEqual(['cache', 'key']);
    expect(subwords('HTTPServer')).toEqual(['http', 'server']);
    expect(subwords('max_retry2')).toEqual(['max', 'retry', '2']);
    expect(wordShare('getCacheKey', wordsOf('const cacheKey ='))).toBeCloseTo(2 / 3);
    expect(wordShare('$', new Set(['a']))).toBe(0);
  });

  it('counts calls and assignments after a dot, not comparisons or arrows', () => {
    const u = dotUses(['a.run(); a.run(1); b.size = 2; if (c.size == 3) {} d.size => 1;']);
    expect(u.get('run')).toEqual({ count: 2, called: 2, assigned: 0 });
    expect(u.get('size')).toEqual({ count: 3, called: 0, assigned: 1 });
    // the uses in two sets of texts add up as the uses in all of them
    const [a, b] = [dotUses(['a.run(); b.size = 2;']), dotUses(['c.run; d.size == 1; e.size = 3;'])];
    const all = dotUses(['a.run(); b.size = 2;', 'c.run; d.size == 1; e.size = 3;']);
    for (const name of ['run', 'size']) expect(addUses(a.get(name), b.get(name))).toEqual(all.get(name));
    expect(addUses(undefined, b.get('run'))).toEqual(b.get('run'));
  });

  it('takes members of receivers spelled like this one, not of this one', () => {
    expect(receiverWord('this._cache')).toBe('cache');
    expect(receiverWord('this')).toBe('');
    const s = siblingMembers(['cache.get(k); lruCache.peek(k); this._cache.has(k); other.get(1);'], 'this._cache');
    expect([...s]).toEqual([['get', 1], ['peek', 1]]);
    expect(siblingMembers(['a.b;'], 'this').size).toBe(0);
  });

  it('finds the name a line keys or assigns, and whether a receiver starts a statement', () => {
    expect(lineKey('      clientY: e')).toBe('clientY');
    expect(lineKey('  vid.muted = !!this.options')).toBe('muted');
    expect(lineKey('  const width = ')).toBe('width');
    expect(lineKey('  if (a === b')).toBe('');
    expect(startsStatement('    ')).toBe(true);
    expect(startsStatement('  await ')).toBe(true);
    expect(startsStatement('  x = ')).toBe(false);
  });

  it('raises the member of the key\'s name in an object literal (`clientY: e.`)', () => {
    const before = (key: string) => `g(e.clientY);\nf({\n  screenX: e.screenX,\n  screenY: e.screenY,\n  clientX: e.clientX,\n  ${key}: e.`;
    const gap = (key: string) => {
      const s = rankFitted({ kind: 'member', receiver: 'e', before: before(key), after: '\n});\n', files: [] });
      return s.get('clientY')! - s.get('screenY')!;
    };
    expect(gap('clientY')).toBeGreaterThan(gap('other') + 0.5);
  });

  it('never offers the name a declaration is declaring as its initializer', () => {
    const before = 'function f(attempts) {\n  const delayMs = attempts * 2;\n  g(delayMs);\n  const delayMs = ';
    const s = rankFitted({ kind: 'ident', before, after: '\n}\n', files: [] });
    expect(s.has('delayMs')).toBe(false);
    expect(s.has('attempts')).toBe(true);
  });

  it('raises a local the service names against a class it names', () => {
    const before = 'function f(x) {\n  use(Alpha, beta);\n  return g(';
    const gap = (kinds: Map<string, string>) => {
      const s = rankFitted({ kind: 'ident', before, after: ');\n}\n', files: [], service: new Set(['Alpha', 'beta']), serviceKinds: kinds });
      return s.get('beta')! - s.get('Alpha')!;
    };
    expect(gap(new Map([['Alpha', 'class'], ['beta', 'const']]))).toBeGreaterThan(gap(new Map([['Alpha', 'const'], ['beta', 'class']])) + 0.5);
  });
});

describe('the parameter an argument fills', () => {
  it('raises a name spelled like the parameter', () => {
    const before = 'function f(timeoutMs, other) {\n  g(other, timeoutMs);\n  schedule(';
    const gap = (param?: string) => {
      const s = rankFitted({ kind: 'ident', before, after: ');\n}\n', files: [], param });
      return s.get('timeoutMs')! - s.get('other')!;
    };
    expect(gap('timeout')).toBeGreaterThan(gap(undefined) + 0.3);
    expect(gap('_timeoutMs')).toBeGreaterThan(gap('timeout'));
  });

  it('measures how far the lines above echo their keys', () => {
    expect(keyEcho('  a: opts?.a ?? 1,\n  b: opts?.b,\n')).toBe(1);
    expect(keyEcho('  vid.autoplay = !!this.options.autoplay;\n  vid.loop = this.options.repeat;\n')).toBe(0.5);
    expect(keyEcho('  const x = f(y);\n  return z;\n')).toBe(0);
    // only the last n keyed lines count
    expect(keyEcho('a: o.a,\nb: o.c,\nc: o.d,\n', false, 2)).toBe(0);
    expect(keyEcho('Map.BoxZoom = BoxZoom;\nMap.Drag = Drag;\n', true)).toBe(1);
    expect(keyEcho('Map.BoxZoom = BoxZoom;\nMap.Drag = Drag;\n')).toBe(0);
  });
});

describe('what followed the same key before', () => {
  it('counts names and other values after the key, in the context files and the current file up to the key', () => {
    const file = "request({ type: 'query' });\nrequest({ type: opts.type });\nrequest({ type: true });\nrequest({ type: ";
    expect(keyFollowers([], file)).toEqual({ name: 1, other: 2 });
    expect(keyFollowers(["x = { type: 'mutation' }", 'y = { type : kind }'], file)).toEqual({ name: 2, other: 3 });
    // a call's key: `reject(err)` twice; `new` begins an expression, not a name the ranking offers
    expect(keyFollowers([], 'reject(err);\nreject( err );\nreject(new Error());\nreject([]);\nreject(')).toEqual({ name: 2, other: 2 });
    // a property never seen before: what followed the properties at line starts
    const methods = 'var Layer = {\n\tonAdd: function () {\n\t},\n\tzoom: 1,\n\tmap: map,\n\tfoo: \'x\',\n\tonRemove: ';
    expect(keyFollowers([], methods)).toEqual({ name: 1, other: 3 });
    // a longer identifier that ends in the key does not count; nor does text after the cursor
    expect(keyFollowers([], 'subtype = 1;\ntype = ')).toEqual({ name: 0, other: 0 });
    expect(keyFollowers([], 'x')).toBeUndefined();
  });
});

describe('a run of sibling lines', () => {
  it('collects the members assigned or listed in the lines right above at the same indentation', () => {
    expect(siblingRun('control.layers = layers;\ncontrol.zoom = zoom;\n\ncontrol.scale = scale;\ncontrol.', 'control')).toEqual(new Set(['layers', 'zoom', 'scale']));
    expect(siblingRun('const codes = [\n  KEY.BAD_REQUEST,\n  KEY.BAD_GATEWAY,\n  KEY.', 'KEY')).toEqual(new Set(['BAD_REQUEST', 'BAD_GATEWAY']));
    // the run stops at a line that is not a sibling; a comparison is no assignment
    expect(siblingRun('m.a = 1;\nfoo();\nm.b = 2;\nm.', 'm')).toEqual(new Set(['b']));
    expect(siblingRun('if (m.a == 1) {}\nm.', 'm').size).toBe(0);
    // other indentation, another receiver, or more than `receiver.` on the line: no run
    expect(siblingRun('  m.a = 1;\nm.', 'm').size).toBe(0);
    expect(siblingRun('n.a = 1;\nm.', 'm').size).toBe(0);
    expect(siblingRun('m.a = 1;\nx = m.', 'm').size).toBe(0);
  });

  it('keeps the run\'s names out of the ranking after `receiver.`', () => {
    const before = 'control.layers = layers;\ncontrol.zoom = zoom;\ncontrol.';
    const scores = rankFitted({ kind: 'member', receiver: 'control', before, after: '\n', files: [{ text: 'control.attribution = attribution;\n' }], service: new Set(['layers', 'zoom', 'attribution']) });
    expect([...scores.keys()]).not.toContain('zoom');
    expect([...scores.keys()]).not.toContain('layers');
    expect(scores.get('attribution')).toBe(0);
  });
});
