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

  it('names the first bad field by its path', () => {
    const message = (raw: unknown) => {
      const r = parseRequest(raw);
      return r.ok ? undefined : r.message;
    };
    const files = [{ file: 'b.ts', text: 'x' }, { file: 'c.ts', text: 42 }];
    expect(message({ id: 1, type: 'warmup', context: { ...context, files } })).toBe('malformed warmup request: context.files[1].text must be a string');
    expect(message({ id: 1, type: 'warmup', context: { files: [] } })).toBe('malformed warmup request: context.current is missing');
    expect(message({ id: 1, type: 'complete', context })).toBe('malformed complete request: documentKey is missing');
    expect(message({ id: 1, type: 'complete', context: [], documentKey: 'd' })).toBe('malformed complete request: context.files is missing');
    expect(message({ id: 1, type: 'complete', context, documentKey: 'd', policy: 'magic' })).toBe('malformed complete request: policy must be tokenbutler|dense|window');
    expect(message({ id: 1, type: 'complete', context, documentKey: 'd', sampling: { temperature: 1, topP: 0 } })).toBe('malformed complete request: sampling.topP must be in (0, 1]');
    expect(message({ id: 1, type: 'cancel', target: Infinity })).toBe('malformed cancel request: target must be a number');
    expect(message({ id: 1, type: 'configure', config: { modelDir: '/m', executionProvider: 'tpu' } })).toBe('malformed configure request: config.executionProvider must be auto|cpu|cuda|webgpu');
  });

  it('keeps only the declared fields of a request', () => {
    const r = parseRequest({ id: 1, type: 'warmup', context: { ...context, extra: 1 }, __proto__: { polluted: true }, stray: 'x' });
    expect(r.ok && r.request).toEqual({ id: 1, type: 'warmup', context });
    expect(r.ok && Object.keys(r.request)).toEqual(['id', 'type', 'context']);
  });

  it('keeps error messages short when a field is huge', () => {
    const huge = 'x'.repeat(1 << 20);
    for (const raw of [
      { id: 1, type: 'complete', context, documentKey: 'd', budget: huge },
      { id: 1, type: 'cancel', target: huge },
      { id: 1, type: 'configure', config: { modelDir: '/m', executionProvider: huge } },
      { id: 1, type: 'warmup', context: { files: huge, current: context.current } },
    ]) {
      const r = parseRequest(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message.length).toBeLessThan(200);
    }
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

  it('checks events field by field', () => {
    expect(isResponse({ type: 'event', event: { type: 'progress', done: 1, total: 2 } })).toBe(true);
    expect(isResponse({ type: 'event', event: { type: 'state', state: 'ready' } })).toBe(true);
    expect(isResponse({ type: 'event', event: { type: 'progress', done: '1', total: 2 } })).toBe(false);
    expect(isResponse({ type: 'event', event: { type: 'state', state: 'asleep' } })).toBe(false);
    expect(isResponse({ type: 'event', event: { type: 'log', level: 'info' } })).toBe(false);
    expect(isResponse({ id: 1, type: 'error', message: 'x', cancelled: 'yes' })).toBe(false);
    expect(isResponse({ id: Infinity, type: 'result', result: 1 })).toBe(false);
  });
});
