// Well-formed requests with hostile values are refused up front with a clear message: a budget, a
// completion length or a context cap out of range would otherwise cost minutes of work or
// gigabytes of cache (the protocol fuzz test found a 1 MB Explain selection blocking the engine).
import { describe, expect, it } from 'vitest';
import { LIMITS, parseRequest } from '../../../src/shared/protocol-guards';

const context = { files: [], current: { file: 'a.ts', prefix: 'x', suffix: '' } };
const config = { modelDir: '/m', executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 };
const problem = (raw: unknown) => {
  const r = parseRequest(raw);
  return r.ok ? undefined : r.message;
};

describe('request limits', () => {
  it('refuses out-of-range numbers in completions', () => {
    for (const [key, value] of [
      ['budget', -1], ['budget', 0], ['budget', 1.5], ['budget', 2 ** 40], ['maxNewTokens', 0], ['maxNewTokens', 1e9], ['maxNewTokens', NaN],
    ] as const) {
      expect(problem({ id: 1, type: 'complete', context, documentKey: 'd', [key]: value }), `${key}=${value}`).toMatch(new RegExp(`${key} must be an integer from`));
    }
    expect(problem({ id: 1, type: 'complete', context, documentKey: 'd', multiline: 'yes' })).toMatch(/multiline must be a boolean/);
    expect(problem({ id: 1, type: 'complete', context, documentKey: 'd', budget: 512, maxNewTokens: 1024, multiline: false })).toBeUndefined();
  });

  it('refuses bad sampling parameters', () => {
    const bad = [{ temperature: NaN }, { temperature: -1 }, { temperature: 1, topP: 0 }, { temperature: 1, topP: 2 }, { temperature: 1, seed: 'x' }, 'hot'];
    for (const sampling of bad) expect(problem({ id: 1, type: 'complete', context, documentKey: 'd', sampling }), JSON.stringify(sampling)).toMatch(/sampling/);
    expect(problem({ id: 1, type: 'complete', context, documentKey: 'd', sampling: { temperature: 0.8, topP: 0.95, seed: 3 } })).toBeUndefined();
  });

  it('refuses an Explain selection beyond the limit', () => {
    expect(problem({ id: 1, type: 'explain', context, selection: 'x'.repeat(LIMITS.selectionChars) })).toBeUndefined();
    expect(problem({ id: 1, type: 'explain', context, selection: 'x'.repeat(LIMITS.selectionChars + 1) })).toMatch(/selection too long \(16001 chars; at most 16000\)/);
  });

  it('checks every configuration field', () => {
    expect(problem({ id: 1, type: 'configure', config })).toBeUndefined();
    for (const [key, value, why] of [
      ['executionProvider', 'banana', /executionProvider must be/],
      ['policy', 7, /policy must be/],
      ['maxContextTokens', 1e9, /maxContextTokens must be an integer from 256 to 131072/],
      ['maxContextTokens', 100, /maxContextTokens/],
      ['budget', 0, /budget/],
      ['maxNewTokens', 5000, /maxNewTokens/],
    ] as const) {
      expect(problem({ id: 1, type: 'configure', config: { ...config, [key]: value } }), `${key}=${value}`).toMatch(why);
    }
  });

  it('keeps error messages short when the input is huge', () => {
    const m = problem({ id: 1, type: 'x'.repeat(1 << 20) })!;
    expect(m).toMatch(/unknown type/);
    expect(m.length).toBeLessThan(200);
  });
});
