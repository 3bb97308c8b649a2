// Runtime checks for the IPC messages in protocol.ts, by its schemas. Both ends receive data from
// another process, so a malformed message must become an error response, never a throw.
import * as v from 'valibot';
import { REQUEST_TYPES, RequestSchema, ResponseSchema, type Request, type Response } from './protocol';

export { LIMITS } from './protocol';

export type ParsedRequest = { ok: true; request: Request } | { ok: false; id: number; message: string };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks an incoming request's shape (not its semantics). The request returned holds only the
 *  declared fields; the first problem found becomes `malformed <type> request: <path> <problem>`. */
export function parseRequest(raw: unknown): ParsedRequest {
  if (!isObject(raw)) return { ok: false, id: -1, message: 'malformed request: not an object' };
  const id = raw.id;
  if (typeof id !== 'number' || !Number.isFinite(id)) return { ok: false, id: -1, message: 'malformed request: missing numeric id' };
  if (typeof raw.type !== 'string' || !REQUEST_TYPES.includes(raw.type)) {
    return { ok: false, id, message: `malformed request: unknown type ${describe(raw.type)}` };
  }
  const parsed = v.safeParse(RequestSchema, raw, { abortEarly: true, message: problem });
  if (parsed.success) return { ok: true, request: parsed.output };
  return { ok: false, id, message: `malformed ${raw.type} request: ${where(parsed.issues[0])}` };
}

/** True if `raw` is a Response (used by the client on messages from the child). */
export function isResponse(raw: unknown): raw is Response {
  return v.is(ResponseSchema, raw);
}

/** The message of a check whose schema gives none (plain `v.string()`, a missing field). It names
 *  what was expected, never the value received (that may be megabytes long). */
function problem(issue: v.BaseIssue<unknown>): string {
  if (issue.input === undefined) return 'is missing';
  const expected = issue.expected ?? '';
  const plain: Record<string, string> = { string: 'a string', number: 'a number', boolean: 'a boolean', Object: 'an object', Array: 'an array' };
  return `must be ${plain[expected] ?? (expected || 'valid')}`;
}

/** `context.files[2].text must be a string`: the issue's field path, then its phrase. */
function where(issue: v.BaseIssue<unknown>): string {
  let path = '';
  for (const item of issue.path ?? []) path += typeof item.key === 'number' ? `[${item.key}]` : `${path ? '.' : ''}${String(item.key)}`;
  return path ? `${path} ${issue.message}` : issue.message;
}

/** A short, printable description of an unexpected value (it may be megabytes long). */
function describe(x: unknown): string {
  let s: string;
  try {
    s = typeof x === 'bigint' ? `${x}n` : (JSON.stringify(x) ?? String(x));
  } catch {
    s = Object.prototype.toString.call(x);
  }
  return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s;
}
