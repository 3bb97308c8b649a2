import { describe, expect, it } from 'vitest';
import {
  balanceBrackets,
  cutAtFirstNewline,
  detectIndentation,
  dropIfBlank,
  dropLinesRepeatingDocument,
  keepClosingBracketOnItsOwnLine,
  normalizeIndentation,
  openedAndUnclosed,
  postprocess,
  providedClosers,
  scanBrackets,
  stopAtBlockEnd,
  stripTrailingBlankLines,
  trimRestOfLineOverlap,
} from '../../../src/postprocess';

describe('whitespace steps', () => {
  it('cutAtFirstNewline', () => {
    expect(cutAtFirstNewline('a();\nb();')).toBe('a();');
    expect(cutAtFirstNewline('\nb();')).toBe('');
    expect(cutAtFirstNewline('a();')).toBe('a();');
  });
  it('stripTrailingBlankLines keeps inner blank lines', () => {
    expect(stripTrailingBlankLines('a\n\nb\n  \n\t\n')).toBe('a\n\nb');
    expect(stripTrailingBlankLines('a  ')).toBe('a  ');
  });
  it('dropIfBlank', () => {
    expect(dropIfBlank(' \n\t ')).toBe('');
    expect(dropIfBlank(' x ')).toBe(' x ');
  });
});

describe('scanBrackets', () => {
  const chars = (t: string, lang?: string) => scanBrackets(t, lang).map((e) => e.ch).join('');
  it('skips strings, template literals and comments', () => {
    expect(chars('f("(", \'[\', `{`) // )\n/* ] */ g[0]')).toBe('()[]');
  });
  it('knows # comments and triple quotes in Python', () => {
    expect(chars('f(x)  # )\ns = """ ( """', 'python')).toBe('()');
  });
  it('an unterminated string ends at the line break', () => {
    expect(chars("it's\n(x)")).toBe('()');
  });
});

describe('detectIndentation / normalizeIndentation', () => {
  it('detects tabs, 2 and 4 spaces', () => {
    expect(detectIndentation('a {\n\tb;\n\tc {\n\t\td;\n\t}\n}')).toMatchObject({ useTabs: true });
    expect(detectIndentation('a {\n  b {\n    c;\n  }\n}')).toEqual({ useTabs: false, size: 2 });
    expect(detectIndentation('a {\n    b {\n        c;\n    }\n}')).toEqual({ useTabs: false, size: 4 });
    expect(detectIndentation('/**\n * doc\n */\nx')).toEqual({ useTabs: false, size: 4 }); // fallback
  });
  it('leaves the first line alone unless it starts at column 0', () => {
    expect(normalizeIndentation('\tx\n\ty', { useTabs: false, size: 2 })).toBe('\tx\n  y');
    expect(normalizeIndentation('\tx\n\ty', { useTabs: false, size: 2 }, true)).toBe('  x\n  y');
  });
  it('only touches leading whitespace', () => {
    expect(normalizeIndentation('a\n    b\t= 1;', { useTabs: true, size: 4 })).toBe('a\n\tb\t= 1;');
  });
});

describe('stopAtBlockEnd', () => {
  it('reports whether it ended the block', () => {
    expect(stopAtBlockEnd('a();\n  b();', { prefix: '  ' })).toEqual({ text: 'a();\n  b();', ended: false });
    expect(stopAtBlockEnd('a();\n}\nb();', { prefix: '  ' })).toEqual({ text: 'a();', ended: true });
  });
  it('a closing line at the block’s indentation ends it when nothing was opened', () => {
    expect(stopAtBlockEnd('a();\n  }', { prefix: 'x {\n  ' }).text).toBe('a();');
  });
  it('single lines pass through', () => {
    expect(stopAtBlockEnd('a(); }', { prefix: '  ' })).toEqual({ text: 'a(); }', ended: false });
  });
  it('measures a blank cursor line by the completion’s first line', () => {
    expect(stopAtBlockEnd('    a();\n    b();\n  }', { prefix: 'f() {\n' }).text).toBe('    a();\n    b();');
  });
});

describe('balanceBrackets', () => {
  it('providedClosers reads the leading closers of the rest of the line', () => {
    expect(providedClosers(')) + 1;\nfoo)')).toEqual([')', ')']);
    expect(providedClosers(' ]};')).toEqual([']', '}']);
    expect(providedClosers('x)')).toEqual([]);
  });
  it('cuts at a closer the suffix provides, keeping the line break before it', () => {
    expect(balanceBrackets('\n  a: 1,\n}', { prefix: 'const o = {', suffix: '}' })).toBe('\n  a: 1,\n');
  });
  it('keeps a closer the suffix does not provide', () => {
    expect(balanceBrackets('a);', { prefix: 'f(', suffix: '' })).toBe('a);');
  });
  it('cuts at a closer that closes beyond the start', () => {
    expect(balanceBrackets('a();\n}', { prefix: 'f() {\n  ', suffix: '' })).toBe('a();');
  });
  it('cuts at a mismatched closer', () => {
    expect(balanceBrackets('a]', { prefix: 'f(', suffix: '' })).toBe('a');
  });
  it('a provided closer of another kind does not count', () => {
    expect(balanceBrackets('a)', { prefix: 'f(', suffix: ']' })).toBe('a)');
  });
  it('trims back to the last balanced line when the block ended with our brackets open', () => {
    expect(balanceBrackets('x();\ny(() => {\n  z();', { prefix: '', suffix: '', blockEnded: true })).toBe('x();');
    expect(balanceBrackets('x();\ny(() => {\n  z();', { prefix: '', suffix: '' })).toBe('x();\ny(() => {\n  z();');
  });
  it('puts an auto-closed partner of the cursor line’s opener on its own line', () => {
    expect(keepClosingBracketOnItsOwnLine('\n    a();', '  run(() => {', '});')).toBe('\n    a();\n  ');
    expect(keepClosingBracketOnItsOwnLine('\n    a();\n\n', '  if (x) {', '}')).toBe('\n    a();\n  ');
    // Not for single lines, not when the closer belongs to an opener further left.
    expect(keepClosingBracketOnItsOwnLine('a()', 'f(', ')')).toBe('a()');
    expect(keepClosingBracketOnItsOwnLine('function () {\n  x();\n}', 'f(a, ', ')')).toBe('function () {\n  x();\n}');
  });
  it('openedAndUnclosed counts only the completion’s brackets', () => {
    expect(openedAndUnclosed('a(b', 'f(')).toBe(1);
    expect(openedAndUnclosed('a)', 'f(')).toBe(0);
  });
});

describe('duplicates', () => {
  it('drops from the first line equal to the next document line', () => {
    expect(dropLinesRepeatingDocument('b();\nc();\nd();', 'a();\n', '\n\nc();\n')).toBe('b();');
  });
  it('does not confuse a nested closing brace with the outer one', () => {
    const c = 'if (a) {\n    b();\n  }\n  c();';
    expect(dropLinesRepeatingDocument(c, 'function f() {\n  ', '\n}')).toBe(c);
  });
  it('the first line counts only on an empty cursor line', () => {
    expect(dropLinesRepeatingDocument('c();', 'x = ', '\nx = c();')).toBe('c();');
    expect(dropLinesRepeatingDocument('c();', '\n', '\nc();')).toBe('');
  });
  it('trims an ending equal to the rest of the line', () => {
    expect(trimRestOfLineOverlap('user.name;', 'const n = ', ';\n')).toBe('user.name');
    expect(trimRestOfLineOverlap('a, b) + 1', 'f(', ') + 1')).toBe('a, b');
  });
  it('does not trim the completion’s own closing bracket', () => {
    expect(trimRestOfLineOverlap('inner()', 'wrap(', ')')).toBe('inner()');
  });
});

describe('postprocess options', () => {
  it('editor indentation settings win over detection', () => {
    const out = postprocess('if (a) {\n\t\tb();\n\t}', { prefix: 'function f() {\n  const x = 1;\n  ', suffix: '\n}', multiline: true, indentation: { useTabs: false, size: 4 } });
    expect(out).toBe('if (a) {\n        b();\n    }');
  });
});
