import { describe, expect, it } from 'vitest';
import { statRows, statsMarkdown } from '../../../src/views/stats';
import type { CompleteResult } from '../../../src/shared/protocol';

const result = (o: Partial<CompleteResult> = {}): CompleteResult => ({
  completion: 'x',
  policy: 'tokenbutler',
  budget: 512,
  prefill: 'sparse',
  predictionInterval: 1,
  contextTokens: 8000,
  reusedTokens: 7900,
  prefilledTokens: 100,
  generatedTokens: 20,
  attended: 648,
  timings: { loadMs: 0, prefillMs: 40, firstTokenMs: 52.4, decodeMsPerToken: 12.5 },
  chosen: [],
  stopReason: 'eot',
  ...o,
});

describe('statRows', () => {
  it('reports context, reuse, attended k of N, TTFT and tokens/s', () => {
    const rows = Object.fromEntries(statRows(result()).map((r) => [r.label, r.value]));
    expect(rows).toEqual({
      Context: '8,000 tokens',
      'Reused from cache': '7,900 (99%), 100 prefilled',
      'Attended per head': '648 of 8,000 (8%)',
      Policy: 'tokenbutler, budget 512, sparse prefill',
      'Time to first token': '52 ms',
      Decode: '80.0 tokens/s (20 generated)',
    });
  });

  it('says dense when no step was sparse, and omits tokens/s for a one-token completion', () => {
    const rows = Object.fromEntries(
      statRows(result({ attended: 0, policy: 'dense', generatedTokens: 1, timings: { loadMs: 0, prefillMs: 0, firstTokenMs: 3, decodeMsPerToken: 0 } })).map((r) => [r.label, r.value]),
    );
    expect(rows['Attended per head']).toBe('all 8,000 (dense)');
    expect(rows.Decode).toBe('1 generated');
  });

  it('names a prediction interval above 1 and leaves out sparse prefill for a dense completion', () => {
    expect(statRows(result({ contextPartial: { placedFiles: 2, relatedFiles: 9, fullContextTokens: 12345 } })).find((r) => r.label === 'Context')?.value).toBe(
      `${(result().contextTokens).toLocaleString('en-US')} tokens, partial: 2 of 9 related files (12,345 when read)`,
    );
    expect(statRows(result({ predictionInterval: 4 })).find((r) => r.label === 'Policy')?.value).toBe('tokenbutler, budget 512, new selection every 4 tokens, sparse prefill');
    expect(statRows(result({ policy: 'dense', prefill: 'dense' })).find((r) => r.label === 'Policy')?.value).toBe('dense, budget 512');
  });

  it('names contextual sparsity when it was on, and only then', () => {
    const on = result({ contextual: { mode: 'neurons', layers: [1, 2, 3], heads: { kept: 4, of: 4 }, neurons: { kept: 528, of: 704 } } });
    expect(statRows(on).find((r) => r.label === 'Contextual sparsity')?.value).toBe('neurons: 4/4 heads, 528/704 FFN neurons per token in 3 layers');
    expect(statRows(result()).some((r) => r.label === 'Contextual sparsity')).toBe(false);
  });

  it('renders a markdown table', () => {
    const md = statsMarkdown(result());
    expect(md.split('\n')[0]).toBe('| Last completion | |');
    expect(md).toContain('| Attended per head | 648 of 8,000 (8%) |');
  });
  it('names where the monitors took the names from, how many and the best (or that none applied)', () => {
    const rows = statRows(result({ monitor: { events: [{ at: 0, source: 'typescript', candidates: 12, prior: true, top: ['_cache', 'size'], ms: 3 }], syntaxCut: 7 } }));
    expect(rows.find((r) => r.label === 'Names')?.value).toBe('language service, 12 names, best _cache; cut at a syntax error (char 7)');
    expect(statRows(result({ monitor: { events: [], syntaxCut: -1 } })).find((r) => r.label === 'Names')?.value).toBe('no name to guide (model alone)');
    const retried = statRows(result({ monitor: { events: [], syntaxCut: -1, syntaxRetry: { replaced: '' } } }));
    expect(retried.find((r) => r.label === 'Names')?.value).toBe('no name to guide (model alone); decoded again past a syntax error (the first try kept "")');
    expect(statRows(result()).some((r) => r.label === 'Names')).toBe(false);
  });
});
