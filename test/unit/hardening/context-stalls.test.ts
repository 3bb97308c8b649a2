// The context assembler runs on the extension host's thread at every completion, so its
// synchronous steps must stay short whatever the document: a 10 MB current file, a file built to
// make the import regexes backtrack, a folder of 50k files. (Before: the imports of a 10 MB
// document took ~1 s, 100 KB of `export export …` ~1.5 s, ranking 50k files ~50 ms.)
// What is asserted is the shape of the work, which load cannot change: only the head of a long
// document is searched, no array of 50k names is sorted, and the time of the import search
// grows linearly with its input (a ratio of two sizes timed side by side). Times are printed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rankFolder } from '../../../src/context/candidates';
import { IMPORT_SCAN_CHARS, relativeImports, stripComments } from '../../../src/context/imports';

/** Milliseconds per call: best of `rounds`, each round long enough (>= 2 ms) to time well. */
function perCall(fn: () => unknown, rounds = 7): number {
  fn(); // the JIT
  let reps = 1;
  for (let t0 = performance.now(); performance.now() - t0 < 2; reps *= 2) for (let i = 0; i < reps; i++) fn();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

/** Lengths of the strings `String.prototype.replace` ran on during `fn`: the comment stripping,
 *  the first pass over the text, whose output every import regex then searches. (Not a spy on
 *  RegExp.prototype.exec: replacing it turns off V8's fast regex paths for the whole process.) */
function replacedLengths(fn: () => unknown): number[] {
  const replace = vi.spyOn(String.prototype, 'replace');
  try {
    fn();
    return replace.mock.contexts.map((ctx) => String(ctx).length);
  } finally {
    replace.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('context assembly stays cheap on hostile input', () => {
  const line = "export function f(a: number) { return a * 2; } // a comment with \"quotes\" and 'more'\n";
  const tenMB = line.repeat(Math.ceil(10e6 / line.length));

  it('imports of a 10 MB document: only the head is searched', () => {
    const doc = "import { a } from './a';\n" + tenMB + "import { z } from './z';\n";
    expect(relativeImports(doc)).toEqual(['./a']);
    const seen = replacedLengths(() => relativeImports(doc));
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(IMPORT_SCAN_CHARS);
    console.log(`[stalls] imports of a 10 MB document: ${perCall(() => relativeImports(doc), 3).toFixed(2)} ms`);
  });

  it('imports of a 1 MB related file full of comments and strings: bounded too', () => {
    const oneMB = tenMB.slice(0, 1e6);
    expect(stripComments(oneMB).length).toBe(oneMB.length);
    expect(Math.max(...replacedLengths(() => relativeImports(oneMB)))).toBeLessThanOrEqual(IMPORT_SCAN_CHARS);
    console.log(`[stalls] imports of a 1 MB file: ${perCall(() => relativeImports(oneMB), 3).toFixed(2)} ms`);
  });

  it('no quadratic backtracking on long stretches without quotes: 8x the input, about 8x the time', () => {
    // Linear work gives a ratio near 8 (up to ~15 measured: the found imports are sorted),
    // quadratic near 64; the bound 32 leaves 2x either way, and the two sizes are timed one right
    // after the other (best of 7, up to 3 tries) so that load slows them alike.
    for (const unit of ['export ', 'import x ', "from 'import export "]) {
      const big = unit.repeat(Math.floor(IMPORT_SCAN_CHARS / unit.length));
      const small = big.slice(0, Math.floor(big.length / 8));
      let ratio = Infinity;
      let times = '';
      for (let attempt = 0; attempt < 3 && ratio >= 32; attempt++) {
        const tSmall = perCall(() => relativeImports(small));
        const tBig = perCall(() => relativeImports(big));
        ratio = Math.min(ratio, tBig / tSmall);
        times = `${tSmall.toFixed(3)} ms → ${tBig.toFixed(3)} ms`;
      }
      console.log(`[stalls] ${JSON.stringify(unit)} x ${big.length / unit.length}: ${times} (ratio ${ratio.toFixed(1)})`);
      expect(ratio).toBeLessThan(32);
    }
  });

  it('a folder of 50k files: the best 30 same-folder files without sorting them all', () => {
    const files = Array.from({ length: 50_000 }, (_, i) => `big/f${49_999 - i}.ts`);
    files.push('big/f1.test.ts', 'big/notes.md');
    const sort = vi.spyOn(Array.prototype, 'sort');
    let ranked: string[];
    try {
      ranked = rankFolder('big/f1.ts', files, 30);
      expect(sort.mock.contexts.map((a) => (a as unknown[]).length).filter((n) => n > 30)).toEqual([]);
    } finally {
      sort.mockRestore();
    }
    expect(ranked).toHaveLength(30);
    expect(ranked.slice(0, 3)).toEqual(['big/f1.test.ts', 'big/f0.ts', 'big/f10.ts']);
    expect(rankFolder('big/f1.ts', files.slice(0, 500))).toEqual(
      files.slice(0, 500).sort((a, b) => (a < b ? -1 : 1)).filter((f) => f !== 'big/f1.ts'),
    );
    console.log(`[stalls] best 30 of 50k names: ${perCall(() => rankFolder('big/f1.ts', files, 30), 3).toFixed(2)} ms`);
  });
});
