// Runtime checks for the IPC messages in protocol.ts. Both ends receive data from another
// process, so a malformed message must become an error response, never a throw.
import type { Request, Response } from './protocol';

export type ParsedRequest = { ok: true; request: Request } | { ok: false; id: number; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isIntIn = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

// Bounds on what one request may ask of the engine, so a bad message costs an error, not minutes
// of work or gigabytes of cache. The extension's settings stay inside them.
export const LIMITS = {
  maxContextTokens: { min: 256, max: 131_072 },
  maxNewTokens: { min: 1, max: 1024 },
  budget: { min: 1, max: 1 << 20 },
  /** Explain teacher-forces the selection token by token; the extension sends at most 4,000 chars. */
  selectionChars: 16_000,
} as const;

const POLICIES = ['tokenbutler', 'dense', 'window'];
const PROVIDERS = ['auto', 'cpu', 'cuda', 'webgpu'];

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

const range = (name: keyof typeof LIMITS) => {
  const l = LIMITS[name] as { min: number; max: number };
  return `${name} must be an integer from ${l.min} to ${l.max}`;
};

function optionalProblem(m: Record<string, unknown>): string | undefined {
  if (m.policy !== undefined && !POLICIES.includes(m.policy as string)) return 'policy must be tokenbutler|dense|window';
  if (m.budget !== undefined && !isIntIn(m.budget, LIMITS.budget.min, LIMITS.budget.max)) return range('budget');
  if (m.maxNewTokens !== undefined && !isIntIn(m.maxNewTokens, LIMITS.maxNewTokens.min, LIMITS.maxNewTokens.max)) return range('maxNewTokens');
  if (m.multiline !== undefined && typeof m.multiline !== 'boolean') return 'multiline must be a boolean';
  if (m.sampling !== undefined) {
    const s = m.sampling;
    if (!isObject(s) || !isFiniteNumber(s.temperature) || s.temperature < 0) return 'sampling.temperature must be a number >= 0';
    if (s.topP !== undefined && !(isFiniteNumber(s.topP) && s.topP > 0 && s.topP <= 1)) return 'sampling.topP must be in (0, 1]';
    if (s.seed !== undefined && !isFiniteNumber(s.seed)) return 'sampling.seed must be a number';
  }
  return undefined;
}

function configProblem(c: unknown): string | undefined {
  if (!isObject(c) || typeof c.modelDir !== 'string') return 'config.modelDir must be a string';
  if (!PROVIDERS.includes(c.executionProvider as string)) return 'config.executionProvider must be auto|cpu|cuda|webgpu';
  if (!POLICIES.includes(c.policy as string)) return 'config.policy must be tokenbutler|dense|window';
  for (const k of ['budget', 'maxContextTokens', 'maxNewTokens'] as const) {
    if (!isIntIn(c[k], LIMITS[k].min, LIMITS[k].max)) return `config.${range(k)}`;
  }
  if (c.prefill !== undefined && c.prefill !== 'dense' && c.prefill !== 'sparse') return 'config.prefill must be dense|sparse';
  if (c.predictionInterval !== undefined && !isIntIn(c.predictionInterval, 1, 16)) return 'config.predictionInterval must be an integer from 1 to 16';
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
      problem = configProblem(raw.config);
      break;
    case 'complete':
      problem = typeof raw.documentKey !== 'string' ? 'documentKey must be a string' : contextProblem(raw.context) ?? optionalProblem(raw);
      break;
    case 'explain':
      problem =
        typeof raw.selection !== 'string'
          ? 'selection must be a string'
          : raw.selection.length > LIMITS.selectionChars
            ? `selection too long (${raw.selection.length} chars; at most ${LIMITS.selectionChars})`
            : contextProblem(raw.context) ?? optionalProblem(raw);
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
      return { ok: false, id, message: `malformed request: unknown type ${describe(raw.type)}` };
  }
  return problem ? bad(problem) : { ok: true, request: raw as unknown as Request };
}

/** A short, printable description of an unexpected value (it may be megabytes long). */
function describe(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s;
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
