// Runtime checks for the IPC messages in protocol.ts. Both ends receive data from another
// process, so a malformed message must become an error response, never a throw.
import type { Request, Response } from './protocol';

export type ParsedRequest = { ok: true; request: Request } | { ok: false; id: number; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function contextProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'context must be an object';
  if (!Array.isArray(v.files)) return 'context.files must be an array';
  for (const f of v.files) {
    if (!isObject(f) || typeof f.file !== 'string' || typeof f.text !== 'string') return 'context.files[] must be {file, text} strings';
  }
  const c = v.current;
  if (!isObject(c) || typeof c.file !== 'string' || typeof c.prefix !== 'string' || typeof c.suffix !== 'string') {
    return 'context.current must be {file, prefix, suffix} strings';
  }
  return undefined;
}

function optionalProblem(m: Record<string, unknown>): string | undefined {
  if (m.policy !== undefined && m.policy !== 'tokenbutler' && m.policy !== 'dense' && m.policy !== 'window') return 'policy must be tokenbutler|dense|window';
  if (m.budget !== undefined && !isFiniteNumber(m.budget)) return 'budget must be a number';
  if (m.maxNewTokens !== undefined && !isFiniteNumber(m.maxNewTokens)) return 'maxNewTokens must be a number';
  return undefined;
}

/** Checks an incoming request's shape (not its semantics). */
export function parseRequest(raw: unknown): ParsedRequest {
  if (!isObject(raw)) return { ok: false, id: -1, message: 'malformed request: not an object' };
  const id = raw.id;
  if (!isFiniteNumber(id)) return { ok: false, id: -1, message: 'malformed request: missing numeric id' };
  const bad = (why: string): ParsedRequest => ({ ok: false, id, message: `malformed ${String(raw.type)} request: ${why}` });
  let problem: string | undefined;
  switch (raw.type) {
    case 'configure':
      problem = isObject(raw.config) && typeof raw.config.modelDir === 'string' ? undefined : 'config.modelDir must be a string';
      break;
    case 'complete':
      problem = typeof raw.documentKey !== 'string' ? 'documentKey must be a string' : contextProblem(raw.context) ?? optionalProblem(raw);
      break;
    case 'explain':
      problem = typeof raw.selection !== 'string' ? 'selection must be a string' : contextProblem(raw.context) ?? optionalProblem(raw);
      break;
    case 'warmup':
      problem = contextProblem(raw.context);
      break;
    case 'cancel':
      problem = isFiniteNumber(raw.target) ? undefined : 'target must be a number';
      break;
    case 'shutdown':
      break;
    default:
      return { ok: false, id, message: `malformed request: unknown type ${JSON.stringify(raw.type)}` };
  }
  return problem ? bad(problem) : { ok: true, request: raw as unknown as Request };
}

/** True if `raw` looks like a Response (used by the client on messages from the child). */
export function isResponse(raw: unknown): raw is Response {
  if (!isObject(raw)) return false;
  if (raw.type === 'event') return isObject(raw.event) && typeof raw.event.type === 'string';
  if (!isFiniteNumber(raw.id)) return false;
  if (raw.type === 'result') return true;
  if (raw.type === 'error') return typeof raw.message === 'string';
  return false;
}
