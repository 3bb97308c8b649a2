import { describe, expect, it } from 'vitest';
import { decodeText, pathSkipReason, textSkipReason } from '../../../src/context/exclusions';

describe('pathSkipReason', () => {
  it.each([
    ['.env', 'secret'],
    ['config/.env.local', 'secret'],
    ['.env.production', 'secret'],
    ['certs/server.pem', 'secret'],
    ['certs/server.KEY', 'secret'],
    ['store.p12', 'secret'],
    ['store.pfx', 'secret'],
    ['ca.crt', 'secret'],
    ['android/release.keystore', 'secret'],
    ['signing.jks', 'secret'],
    ['home/id_rsa', 'secret'],
    ['home/id_rsa.pub', 'secret'],
    ['home/id_ed25519', 'secret'],
    ['node_modules/lodash/index.js', 'vendored'],
    ['packages/a/node_modules/x.ts', 'vendored'],
    ['.git/config', 'vendored'],
    ['package-lock.json', 'generated'],
    ['dist/app.min.js', 'generated'],
  ])('%s → %s', (rel, reason) => {
    expect(pathSkipReason(rel)).toBe(reason);
  });

  it.each(['src/env.ts', 'src/.envrc.ts', 'src/keyboard.ts', 'docs/crt-notes.md', 'src/environment/index.ts'])('%s is allowed', (rel) => {
    expect(pathSkipReason(rel)).toBeUndefined();
  });
});

describe('decodeText', () => {
  it('rejects a NUL byte in the first 8 KB', () => {
    expect(decodeText(Uint8Array.from([0x61, 0x00, 0x62]))).toEqual({ reason: 'binary' });
  });
  it('rejects invalid UTF-8', () => {
    expect(decodeText(Uint8Array.from([0x61, 0xff, 0xfe, 0x62]))).toEqual({ reason: 'binary' });
  });
  it('rejects more than 1 MB', () => {
    expect(decodeText(new Uint8Array(1024 * 1024 + 1).fill(0x61))).toEqual({ reason: 'too-large' });
  });
  it('decodes valid UTF-8', () => {
    expect(decodeText(Buffer.from('const π = 3.14; // ✓'))).toEqual({ text: 'const π = 3.14; // ✓' });
  });
});

describe('textSkipReason', () => {
  it.each(['RSA ', 'OPENSSH ', 'EC ', 'ENCRYPTED ', ''])('finds a %sPRIVATE KEY block anywhere', (kind) => {
    const text = `export const fixture = \`\n-----BEGIN ${kind}PRIVATE KEY-----\nMIIB...\n-----END ${kind}PRIVATE KEY-----\n\`;`;
    expect(textSkipReason(text)).toBe('private-key');
  });
  it('a public certificate is not a private key', () => {
    expect(textSkipReason('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----')).toBeUndefined();
  });
  it('flags a line over 5,000 chars as minified, but not 5,000 exactly', () => {
    expect(textSkipReason(`a\n${'x'.repeat(5001)}\nb`)).toBe('minified');
    expect(textSkipReason(`a\n${'x'.repeat(5000)}\nb`)).toBeUndefined();
  });
  it('flags editor text over 1 MB (in UTF-8 bytes)', () => {
    expect(textSkipReason('é'.repeat(600 * 1024).replace(/(.{100})/g, '$1\n'))).toBe('too-large');
  });
  it('flags NUL characters in editor text', () => {
    expect(textSkipReason('abc\0def')).toBe('binary');
  });
});
