// What must never enter the context, decided from the path alone or from the content.
// Path rules run before any read, so a secret file is never even opened.
import type { SkipReason } from './types';

export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_LINE_CHARS = 5000;
const BINARY_SNIFF_BYTES = 8192;

// Credentials by file name. Matched case-insensitively on the base name.
const SECRET_NAMES: RegExp[] = [
  /^\.env$/,
  /^\.env\..+$/, // .env.local, .env.production, ... (also .env.example: cheap to lose, costly to leak)
  /\.(pem|key|p12|pfx|crt|cer|der|keystore|jks)$/,
  /^id_(rsa|dsa|ecdsa|ed25519)/, // ssh keys and their .pub files
  /^\.(netrc|npmrc|pypirc)$/, // package-registry and netrc files often hold auth tokens
];

// Machine-written files: large, no signal for completion, and they crowd out real code.
const GENERATED_NAMES: RegExp[] = [
  /^(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb|npm-shrinkwrap\.json)$/,
  /\.min\.(js|mjs|cjs|css)$/,
  /\.map$/,
];

const VENDORED_DIRS = new Set(['node_modules', '.git']);

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----/;

export function containsPrivateKey(text: string): boolean {
  return PRIVATE_KEY.test(text);
}

/** Reason to skip a workspace-relative path before reading it, if any. */
export function pathSkipReason(rel: string): SkipReason | undefined {
  const parts = rel.split('/');
  if (parts.some((p) => VENDORED_DIRS.has(p))) return 'vendored';
  const base = parts[parts.length - 1].toLowerCase();
  if (SECRET_NAMES.some((r) => r.test(base))) return 'secret';
  if (GENERATED_NAMES.some((r) => r.test(base))) return 'generated';
  return undefined;
}

/** Decode file bytes as UTF-8 text, or say why they are not text. */
export function decodeText(bytes: Uint8Array): { text: string } | { reason: SkipReason } {
  if (bytes.length > MAX_FILE_BYTES) return { reason: 'too-large' };
  const sniff = Math.min(bytes.length, BINARY_SNIFF_BYTES);
  for (let i = 0; i < sniff; i++) if (bytes[i] === 0) return { reason: 'binary' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { reason: 'binary' };
  }
}

/** Reason to skip decoded text (also used for unsaved editor content), if any. */
export function textSkipReason(text: string): SkipReason | undefined {
  // Size check in bytes for editor text too, so disk and editor content are judged alike.
  if (text.length > MAX_FILE_BYTES || Buffer.byteLength(text, 'utf8') > MAX_FILE_BYTES) return 'too-large';
  if (text.slice(0, BINARY_SNIFF_BYTES).includes('\0')) return 'binary';
  if (containsPrivateKey(text)) return 'private-key';
  if (hasLongLine(text, MAX_LINE_CHARS)) return 'minified';
  return undefined;
}

function hasLongLine(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    if (nl - start > max) return true;
    start = nl + 1;
  }
  return false;
}
