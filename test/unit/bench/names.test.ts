import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isTargetPath, PACKAGES, packStem, pinnedVersions, type HeldOutPackage } from '../../../src/bench/names/heldout';
import {
  copyGuess,
  editSimilarity,
  exactMatch,
  firstIdentifier,
  levenshtein,
  nimHit,
  percentile,
  recencyGuess,
  repeatedSpan,
} from '../../../src/bench/names/metrics';
import { containsIdentifier, draw, linePositions, nimPositions, secondHalfStart, seeded, visibleBefore } from '../../../src/bench/names/positions';
import { syntaxCheck } from '../../../src/bench/names/syntax';
import { writeRows } from '../../../src/bench/names/candidates';

// First half: declarations; second half: uses after `receiver.`, in call arguments and after `=`.
const FILE = `import { helper } from './helper';

export class Store {
  private items: string[] = [];
  private count = 0;

  add(item: string): void {
    this.items.push(item);
    this.count += 1;
  }
}

// ------------------------------------------------------------------
export function run(store: Store, input: string) {
  const total = store.count;
  helper(input, total);
  store.add(input);
  let other = total;
  // store.ignored(inComment)
  const s = "store.inString";
  return other;
}
`;

describe('next-identifier positions', () => {
  const ps = nimPositions('a.ts', FILE);

  it('are all in the second half of the file', () => {
    expect(ps.length).toBeGreaterThan(0);
    for (const p of ps) expect(p.offset).toBeGreaterThanOrEqual(secondHalfStart(FILE));
    // `this.items` and `this.count` are in the first half
    expect(ps.map((p) => p.target)).not.toContain('items');
  });

  it('find after-dot, call-argument and assignment sites with the identifier written there', () => {
    const by = (site: string) => ps.filter((p) => p.site === site).map((p) => p.target);
    expect(by('dot')).toEqual(expect.arrayContaining(['count', 'add']));
    expect(by('call-arg')).toEqual(expect.arrayContaining(['input', 'total']));
    expect(by('assign')).toEqual(expect.arrayContaining(['store', 'total']));
    for (const p of ps) {
      expect(FILE.slice(p.offset, p.offset + p.target.length)).toBe(p.target);
      expect(p.kind).toBe(p.site === 'dot' ? 'dot' : 'arg');
    }
    const dot = ps.find((p) => p.site === 'dot')!;
    expect(FILE[dot.offset - 1]).toBe('.');
  });

  it('skip comments and strings', () => {
    expect(ps.map((p) => p.target)).not.toContain('ignored');
    expect(ps.map((p) => p.target)).not.toContain('inString');
  });

  it('skip keywords and functions as argument starts', () => {
    const text = 'x\n'.repeat(40) + 'f(this.a, new B(), () => 1, async () => 2, typeof q);\n';
    expect(nimPositions('b.ts', text).filter((p) => p.site === 'call-arg')).toEqual([]);
  });

  it('count only identifiers visible before the cursor as whole words', () => {
    const payload = { files: [{ text: 'export const totalCount = 1;' }], current: { prefix: 'let x = tot' } };
    const visible = visibleBefore(payload);
    expect(containsIdentifier(visible, 'totalCount')).toBe(true);
    expect(containsIdentifier(visible, 'total')).toBe(false); // only as part of totalCount
    expect(containsIdentifier(visible, 'tot')).toBe(true); // in the prefix itself
    expect(containsIdentifier(visible, 'store')).toBe(false);
  });
});

describe('line positions', () => {
  it('cut qualifying lines of the second half at a token start after the first token', () => {
    const ls = linePositions('a.ts', FILE, seeded(3));
    expect(ls.length).toBeGreaterThan(0);
    for (const l of ls) {
      expect(l.offset).toBeGreaterThan(l.lineStart + FILE.slice(l.lineStart).search(/\S/));
      expect(l.lineStart).toBeGreaterThanOrEqual(secondHalfStart(FILE));
      expect(FILE.slice(l.offset, l.lineEnd).trimEnd()).toBe(l.target);
      expect(l.target.replace(/\s/g, '').length).toBeGreaterThanOrEqual(3);
      expect(/\s/.test(FILE[l.offset])).toBe(false); // a token starts at the cut
    }
    const lines = ls.map((l) => FILE.slice(l.lineStart, l.lineEnd).trim());
    expect(lines.some((l) => l.startsWith('//'))).toBe(false); // comments have no tokens
    expect(lines).toContain('helper(input, total);');
  });

  it('are the same for the same seed', () => {
    expect(linePositions('a.ts', FILE, seeded(7))).toEqual(linePositions('a.ts', FILE, seeded(7)));
  });
});

describe('draw', () => {
  const groups = new Map([
    ['a', Array.from({ length: 10 }, (_, i) => ({ file: `a${i % 2}.ts`, offset: i }))],
    ['b', Array.from({ length: 10 }, (_, i) => ({ file: 'b.ts', offset: i }))],
  ]);

  it('is seeded, caps positions per file, lets groups take turns and sorts by group, file, offset', async () => {
    const one = await draw(groups, 7, 5, 2, () => true);
    expect(one).toEqual(await draw(groups, 7, 5, 2, () => true));
    expect(one.filter((x) => x.group === 'b')).toHaveLength(2); // b has one file, capped at 2
    expect(one.filter((x) => x.group === 'a')).toHaveLength(4); // two files x 2
    // groups are contiguous, and inside a group files then offsets ascend
    const groupsInOrder = one.map((x) => x.group).filter((g, i, a) => i === 0 || a[i - 1] !== g);
    expect(new Set(groupsInOrder).size).toBe(groupsInOrder.length);
    for (let i = 1; i < one.length; i++) {
      const [p, q] = [one[i - 1], one[i]];
      if (p.group !== q.group) continue;
      expect(p.item.file.localeCompare(q.item.file) < 0 || (p.item.file === q.item.file && p.item.offset < q.item.offset)).toBe(true);
    }
    const inB = one.filter((x) => x.group === 'b').map((x) => x.item.offset);
    expect(inB).toEqual([...inB].sort((p, q) => p - q));
  });

  it('skips what accept rejects', async () => {
    const got = await draw(groups, 20, 1, 10, (c) => c.offset % 2 === 0);
    expect(got.every((x) => x.item.offset % 2 === 0)).toBe(true);
    expect(got).toHaveLength(10);
  });
});

describe('hit rule', () => {
  it('compares the first whole identifier of the first line', () => {
    expect(nimHit('count += 1;\n', 'count')).toBe(true);
    expect(nimHit('  count)', 'count')).toBe(true);
    expect(nimHit('countAll()', 'count')).toBe(false);
    expect(nimHit('(count)', 'count')).toBe(false);
    expect(nimHit('', 'count')).toBe(false);
    expect(nimHit('\ncount', 'count')).toBe(false);
    expect(firstIdentifier('$el.x')).toBe('$el');
  });
});

describe('edit similarity and exact match', () => {
  it('is 100 · (1 - Levenshtein / max length) on trimmed first lines', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(editSimilarity('kitten', 'sitting')).toBeCloseTo(100 * (1 - 3 / 7), 10);
    expect(editSimilarity('  abc  \nmore', 'abc')).toBe(100);
    expect(editSimilarity('', '')).toBe(100);
    expect(editSimilarity('', 'abc')).toBe(0);
    expect(exactMatch('foo(bar);  \nnext()', 'foo(bar);')).toBe(true);
    expect(exactMatch('foo(bar)', 'foo(bar);')).toBe(false);
  });
});

describe('repeated span', () => {
  it('finds a span of >= 3 tokens occurring >= 3 times without overlap', () => {
    expect(repeatedSpan('a.b(); a.b(); a.b();')).toEqual(['a', '.', 'b']);
    expect(repeatedSpan('a.b(); a.b();')).toBeUndefined(); // twice only
    expect(repeatedSpan('x, y, z, w')).toBeUndefined();
    // "a a a a a" holds "a a a" at 3 starts but only once without overlap
    expect(repeatedSpan('a a a a a')).toBeUndefined();
    expect(repeatedSpan('a a a a a a a a a')).toEqual(['a', 'a', 'a']);
  });
});

describe('recency rule', () => {
  it('repeats what last followed the same receiver', () => {
    expect(recencyGuess('this.items.push(a);\nthis.count++;\nthis.items.pop();\nthis.')).toBe('items');
    expect(recencyGuess('state.copy_ = 1\nstate.base_ = 2\nreturn state.')).toBe('base_');
    expect(recencyGuess('other.x\nfoo.')).toBe('');
  });

  it('keys arguments and assignments on the identifier and punctuation before the cursor', () => {
    expect(recencyGuess('helper(input, 1)\nhelper(  ')).toBe('input');
    expect(recencyGuess('let total = count\ntotal = ')).toBe('count');
    expect(recencyGuess('x')).toBe(''); // no punctuation: no key
  });

  it('copies the rest of the line after the longest earlier tail (copy rule for lines)', () => {
    expect(copyGuess('  const a = foo(bar, baz);\n  const b = foo(')).toBe('bar, baz);');
    expect(copyGuess('nothing alike\nzzz')).toBe('');
  });
});

describe('syntax check', () => {
  const prefix = 'const a = [1, 2];\nconst b = a.';
  const suffix = '\nconsole.log(b);\n';
  it('flags a completion that adds a parse error near the cut', () => {
    expect(syntaxCheck('x.ts', prefix, 'map((x) => x * 2);\n', suffix).added).toBe(false);
    const bad = syntaxCheck('x.ts', prefix, 'map((x) => x * 2;', suffix);
    expect(bad.added).toBe(true);
    expect(bad.newErrors[0]).toMatch(/^TS\d+ /);
  });

  it('does not count errors the file has without the completion', () => {
    // the next line is broken with or without the insertion
    const broken = '\nlet y = 1 +;\n';
    expect(syntaxCheck('y.js', 'const b = a.', 'length;', broken).added).toBe(false);
    expect(syntaxCheck('y.js', 'const b = a.', 'length +;', broken).added).toBe(true);
    // the cut leaves `foo(` open; a completion that closes it removes an error and adds none
    expect(syntaxCheck('y.js', 'foo(', 'a, b);', '\nbar();\n').added).toBe(false);
  });

  it('a completion that leaves a call the cut opened still open changes the message there, but adds no error', () => {
    const open = syntaxCheck('y.js', 'function f() {\n  g(', 'a, b', '\n}\n');
    expect(open.added).toBe(false);
    expect(open.addedSameCode).toBe(true); // the stricter rule, reported beside it
  });
});

describe('held-out packages', () => {
  const pkg: HeldOutPackage = { family: 'hono', name: 'hono', half: 'report', include: ['dist/'], exclude: ['dist/cjs/'] };
  it('name tarballs as npm pack does and pick target files', () => {
    expect(packStem('@trpc/server', '11.25.2')).toBe('trpc-server-11.25.2');
    expect(isTargetPath(pkg, 'dist/hono.js')).toBe(true);
    expect(isTargetPath(pkg, 'dist/cjs/hono.js')).toBe(false);
    expect(isTargetPath(pkg, 'dist/types/hono.d.ts')).toBe(false);
    expect(isTargetPath(pkg, 'dist/hono.min.js')).toBe(false);
    expect(isTargetPath(pkg, 'dist/tests/a.test.js')).toBe(false);
  });

  it('keep the fitting set (training-corpus packages) apart from both held-out halves, as the fetch script lists it', () => {
    const root = path.resolve(__dirname, '../../..');
    const script = readFileSync(path.join(root, 'bench/names-fetch.sh'), 'utf8');
    const fitRe = new RegExp(/fit ]; then\n\s*families='([^']+)'/.exec(script)![1]);
    const heldRe = new RegExp(/^families='([^']+)'/m.exec(script)![1]);
    const pinned = pinnedVersions(path.join(root, 'training/dataset/packages.pinned.txt'));
    const fit = PACKAGES.filter((p) => p.half === 'fit');
    const held = PACKAGES.filter((p) => p.half !== 'fit');
    expect(fit.length).toBeGreaterThan(10);
    for (const p of fit) {
      expect(pinned.has(p.name), p.name).toBe(true);
      expect(fitRe.test(`${p.name}@1`), p.name).toBe(true);
      expect(heldRe.test(`${p.name}@1`), p.name).toBe(false);
    }
    for (const p of held) expect(fitRe.test(`${p.name}@1`), p.name).toBe(false);
    // every package the fit pattern fetches is listed (none fetched and never used)
    const fetched = [...pinned.keys()].filter((n) => fitRe.test(`${n}@1`));
    expect(fetched.sort()).toEqual(fit.map((p) => p.name).sort());
  });
});

describe('percentile', () => {
  it('is nearest-rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 100], 95)).toBe(100);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('writeRows (candidate dumps)', () => {
  it('writes an array that JSON.parse reads back, one row per line, empty or not', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-rows-'));
    try {
      const rows = [{ kind: 'dot', target: 'a', features: { a: [1, 0.5] } }, { kind: 'arg', target: 'b\nc', features: {} }];
      writeRows(path.join(dir, 'r.json'), rows);
      const text = readFileSync(path.join(dir, 'r.json'), 'utf8');
      expect(JSON.parse(text)).toEqual(rows);
      expect(text.split('\n')).toHaveLength(rows.length + 3);
      writeRows(path.join(dir, 'e.json'), []);
      expect(JSON.parse(readFileSync(path.join(dir, 'e.json'), 'utf8'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
