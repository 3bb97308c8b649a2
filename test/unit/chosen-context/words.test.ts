import { describe, expect, it } from 'vitest';
import { wholeWords, type TextSpan } from '../../../src/chosen-context/words';

/** The span over the `n`th occurrence of `part` in `text` (0-based). */
function spanOf(text: string, part: string, score = 1, heads?: number, n = 0): TextSpan {
  let at = -1;
  for (let i = 0; i <= n; i++) at = text.indexOf(part, at + 1);
  if (at < 0) throw new Error(`${part} not in the text`);
  return { start: at, end: at + part.length, score, ...(heads === undefined ? {} : { heads }) };
}
const texts = (text: string, spans: TextSpan[]) => spans.map((s) => text.slice(s.start, s.end));

describe('wholeWords', () => {
  const CODE = 'export function makeClient(provider: Provider, apiHostname: string) {\n  return new Client(provider, apiHostname);\n}\n';

  it('grows a span covering `pro` inside `provider` to `provider`', () => {
    const out = wholeWords(CODE, [spanOf(CODE, 'pro', 0.7, 3)]);
    expect(out).toEqual([{ ...spanOf(CODE, 'provider'), score: 0.7, heads: 3 }]);
  });

  it('grows `Hostname` in `apiHostname` to `apiHostname`, on both sides of a word', () => {
    expect(texts(CODE, wholeWords(CODE, [spanOf(CODE, 'Hostname')]))).toEqual(['apiHostname']);
    expect(texts(CODE, wholeWords(CODE, [spanOf(CODE, 'keCli')]))).toEqual(['makeClient']);
  });

  it('a token with a leading space grows to its word without the space', () => {
    expect(texts(CODE, wholeWords(CODE, [spanOf(CODE, ' Prov')]))).toEqual(['Provider']);
  });

  it('merges two adjacent spans in one word into one with the maximum score and heads', () => {
    const out = wholeWords(CODE, [spanOf(CODE, 'api', 0.2, 5), spanOf(CODE, 'Hostname', 0.9, 2)]);
    expect(out).toEqual([{ ...spanOf(CODE, 'apiHostname'), score: 0.9, heads: 5 }]);
  });

  it('keeps punctuation-only spans as they are, and does not merge them into a touching word', () => {
    const paren = spanOf(CODE, '(', 0.4);
    const out = wholeWords(CODE, [paren, spanOf(CODE, 'keClient', 0.8)]);
    expect(texts(CODE, out)).toEqual(['makeClient', '(']);
    expect(out[1]).toEqual(paren);
    expect(wholeWords(CODE, [spanOf(CODE, ': ')])).toEqual([{ ...spanOf(CODE, ':'), score: 1 }]);
  });

  it('never crosses a line: a multi-line span becomes one span per line, blank pieces dropped', () => {
    const text = 'alpha beta\n    gamma delta\n\n  epsilon';
    const start = text.indexOf('ta'); // inside `beta`
    const end = text.indexOf('eps') + 1; // inside `epsilon`
    const out = wholeWords(text, [{ start, end, score: 1 }]);
    expect(texts(text, out)).toEqual(['beta', 'gamma delta', 'epsilon']);
    for (const s of out) expect(text.slice(s.start, s.end)).not.toContain('\n');
  });

  it('words on neighbouring lines stay separate spans', () => {
    const text = 'foo\nbar';
    const out = wholeWords(text, [{ start: 2, end: 3, score: 1 }, { start: 4, end: 5, score: 0.5 }]);
    expect(texts(text, out)).toEqual(['foo', 'bar']);
    expect(out.map((s) => s.score)).toEqual([1, 0.5]);
  });

  it('drops spans of blanks only', () => {
    expect(wholeWords('a    b', [{ start: 1, end: 5, score: 1 }])).toEqual([]);
  });

  it('stops growing at the bounds (text outside them was not context)', () => {
    const text = 'selectedName + restOfIt';
    // context is text[8, 23): the word `Name` must not grow into `selected`
    const out = wholeWords(text, [{ start: 9, end: 11, score: 1 }], { start: 8, end: 23 });
    expect(texts(text, out)).toEqual(['Name']);
  });

  it('treats letters beyond ASCII and surrogate pairs as word characters', () => {
    const text = 'const größe = 𝒳value;';
    expect(texts(text, wholeWords(text, [spanOf(text, 'ö')]))).toEqual(['größe']);
    expect(texts(text, wholeWords(text, [spanOf(text, 'val')]))).toEqual(['𝒳value']);
  });

  it('does not modify its input', () => {
    const input = [spanOf(CODE, 'pro', 0.5, 1), spanOf(CODE, 'vider', 0.9, 2)];
    const copy = structuredClone(input);
    wholeWords(CODE, input);
    expect(input).toEqual(copy);
  });
});
