import { describe, expect, it } from 'vitest';
import { isResponse, parseRequest } from '../../src/shared/protocol-guards';

const context = { files: [{ file: 'b.ts', text: 'export const b = 1;' }], current: { file: 'a.ts', prefix: 'x', suffix: '' } };

describe('parseRequest', () => {
  it('accepts every well-formed request type', () => {
    const config = { modelDir: '/m', executionProvider: 'cpu', policy: 'dense', budget: 16, maxContextTokens: 256, maxNewTokens: 4 };
    for (const r of [
      { id: 1, type: 'configure', config },
      { id: 2, type: 'complete', context, documentKey: 'file:///a.ts', policy: 'window', budget: 64 },
      { id: 3, type: 'explain', context, selection: 'x' },
      { id: 4, type: 'warmup', context },
      { id: 5, type: 'cancel', target: 2 },
      { id: 6, type: 'shutdown' },
    ]) {
      expect(parseRequest(r)).toEqual({ ok: true, request: r });
    }
  });

  it('turns malformed input into an error with the best id it can find', () => {
    expect(parseRequest(null)).toMatchObject({ ok: false, id: -1 });
    expect(parseRequest('complete')).toMatchObject({ ok: false, id: -1 });
    expect(parseRequest({ type: 'shutdown' })).toMatchObject({ ok: false, id: -1 });
    expect(parseRequest({ id: 7, type: 'nope' })).toMatchObject({ ok: false, id: 7, message: expect.stringContaining('unknown type') });
    expect(parseRequest({ id: 8, type: 'complete', context })).toMatchObject({ ok: false, id: 8, message: expect.stringContaining('documentKey') });
    expect(parseRequest({ id: 9, type: 'complete', documentKey: 'k', context: { files: [] } })).toMatchObject({ ok: false, id: 9 });
    expect(parseRequest({ id: 10, type: 'complete', documentKey: 'k', context, policy: 'magic' })).toMatchObject({ ok: false, id: 10 });
    expect(parseRequest({ id: 11, type: 'cancel' })).toMatchObject({ ok: false, id: 11 });
    expect(parseRequest({ id: 12, type: 'configure', config: {} })).toMatchObject({ ok: false, id: 12 });
  });
});

describe('isResponse', () => {
  it('recognises results, errors and events only', () => {
    expect(isResponse({ id: 1, type: 'result', result: null })).toBe(true);
    expect(isResponse({ id: 1, type: 'error', message: 'x' })).toBe(true);
    expect(isResponse({ type: 'event', event: { type: 'log', level: 'info', message: 'hi' } })).toBe(true);
    expect(isResponse({ type: 'result', result: null })).toBe(false);
    expect(isResponse({ id: 1, type: 'error' })).toBe(false);
    expect(isResponse({ type: 'event' })).toBe(false);
    expect(isResponse(42)).toBe(false);
  });
});
