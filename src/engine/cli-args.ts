// Argument parsing and validation for the command line (src/engine/cli.ts). No engine or
// onnxruntime import, so every rule here is unit-tested without a model. Each command has one
// table of the options it accepts; adding an option is one line in that table, and its parsing,
// its check, its default and its line in `--help` all come from that line (the option kinds are
// in cli-options.ts).
import { readFileSync, realpathSync, statSync } from 'fs';
import * as path from 'path';
import { lineColToOffset } from '../context/positions';
import { isInside, normalizeRel } from '../context/paths';
import { DEFAULT_PREDICTION_INTERVAL, LIMITS, type Policy } from '../shared/protocol';
import { CONTEXTUAL_OFF, parseContextual, type ContextualSparsity } from '../shared/contextual';
import { GGUF_TYPES, type GgufType } from './bench-peer';
import { flag, int, listOf, oneOf, orList, parseInt10, required, show, text, UsageError, type Option } from './cli-options';

export { UsageError } from './cli-options';

// --- the commands ----------------------------------------------------------------------------

export const POLICIES = ['tokenbutler', 'dense', 'window'] as const satisfies readonly Policy[];

const policy = oneOf(POLICIES, 'which cached tokens each attention head reads', 'tokenbutler');
// 16 is the extension setting's minimum; the engine itself would take less.
const budget = int('tokens each (layer, KV head) reads per decode step', { min: 16, max: LIMITS.budget.max, default: 512 });

/** One ShadowLLM setting, `MODE[:KEEP]` (src/shared/contextual.ts). */
function contextualItem(raw: string, name: string): ContextualSparsity {
  const cs = parseContextual(raw);
  if (typeof cs === 'string') throw new UsageError(`${name} ${cs}`);
  return cs;
}

const contextual: Option<ContextualSparsity> = {
  arg: 'MODE[:KEEP]', help: 'ShadowLLM contextual sparsity of decode steps: off, heads, neurons or both, keeping the KEEP share (default 0.75) in each layer after the first',
  required: false, default: CONTEXTUAL_OFF, detail: 'default off', parse: contextualItem,
};

/** Options every command takes: the model and how the engine runs it, and the output. */
const common = {
  model: text('DIR', 'model folder (default: the bundled models/default)'),
  'max-context-tokens': int('most context tokens kept in the KV cache', { ...LIMITS.maxContextTokens, default: 16384 }),
  prefill: oneOf(['sparse', 'dense'] as const, 'how context beyond 4,096 cached tokens is prefilled', 'sparse'),
  interval: int('decode steps per fresh selection', { min: 1, max: 16, default: DEFAULT_PREDICTION_INTERVAL }),
  'contextual-sparsity': contextual,
  json: flag('print exactly one JSON object on stdout'),
  verbose: flag('engine log and stack traces on stderr'),
};

interface CommandSpec {
  readonly summary: string;
  readonly options: Readonly<Record<string, Option<unknown>>>;
}

export const COMMANDS = {
  complete: {
    summary: 'complete the code at a position of a workspace file',
    options: {
      workspace: required(text('DIR', 'workspace root; the context is assembled from it as the extension does')),
      file: required(text('REL', 'the file to complete, inside the workspace')),
      line: required(int('line of the cursor (1-based)', { min: 1 })),
      column: required(int('column of the cursor (1-based, UTF-16 code units)', { min: 1 })),
      policy,
      budget,
      'max-new-tokens': int('longest completion, in tokens', { ...LIMITS.maxNewTokens, default: 64 }),
      'no-monitors': flag('plain decoding: no language-service names, no context prior, no syntax cut'),
      ...common,
    },
  },
  explain: {
    summary: 'per-token surprise of a selection, and the context the model read',
    options: {
      workspace: required(text('DIR', 'workspace root')),
      file: required(text('REL', 'the file holding the selection, inside the workspace')),
      'start-line': required(int('first line of the selection (1-based)', { min: 1 })),
      'start-column': required(int('column where the selection starts (1-based)', { min: 1 })),
      'end-line': required(int('last line of the selection (1-based)', { min: 1 })),
      'end-column': required(int('column just after the selection (1-based)', { min: 1 })),
      policy,
      budget,
      'no-monitors': flag('do not report where the monitors would have constrained the selection'),
      ...common,
    },
  },
  bench: {
    summary: 'decode speed of dense, window and tokenbutler side by side over growing contexts',
    options: {
      context: listOf('N,N,...', 'context lengths in tokens (each >= 64)', [2048, 8192, 16384, 32768], (s, name) => parseInt10(s, `each item of ${name}`, { min: 64 })),
      policies: listOf<Policy>('P,P,...', `policies to measure (${POLICIES.join(', ')})`, ['dense', 'window', 'tokenbutler'],
        (s, name) => {
          if (!(POLICIES as readonly string[]).includes(s)) throw new UsageError(`${name} takes ${orList(POLICIES)}, got ${show(s)}`);
          return s as Policy;
        }),
      budget,
      steps: int('timed decode steps per context and policy', { min: 1, default: 16 }),
      'no-warm': flag('skip the warm-completion measurements'),
      'auto-dense': flag('crossover switch on at the model\'s crossover (the default; also under TOKENBUTLER_AUTO_DENSE=0)'),
      'dense-below': int('crossover at N cached tokens instead of the model\'s (0: always sparse)', { min: 0 }),
      peer: listOf<GgufType>('T,T,...', `llama.cpp rows (node-llama-cpp, 1 thread) on a GGUF of the model with these weight types (${GGUF_TYPES.join(', ')})`, [],
        (s, name) => {
          if (!(GGUF_TYPES as readonly string[]).includes(s)) throw new UsageError(`${name} takes ${orList(GGUF_TYPES)}, got ${show(s)}`);
          return s as GgufType;
        }),
      contextual: { ...listOf<ContextualSparsity>('S,S,...', 'instead of the policies table: decode speed of these contextual-sparsity settings (MODE[:KEEP]) side by side, per policy and context', [], contextualItem), detail: undefined },
      ...common,
    },
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
type Values<O> = { -readonly [K in keyof O]: O[K] extends Option<infer T> ? T : never };
export type OptionsOf<C extends CommandName> = Values<(typeof COMMANDS)[C]['options']>;

export type Parsed =
  | { kind: 'help'; command?: CommandName }
  | { kind: 'version' }
  | { [C in CommandName]: { kind: 'run'; command: C; opts: OptionsOf<C> } }[CommandName];

const commandNames = Object.keys(COMMANDS) as CommandName[];
const isCommand = (s: string): s is CommandName => Object.prototype.hasOwnProperty.call(COMMANDS, s);
const isHelp = (a: string) => a === '--help' || a === '-h';

/** argv without `node cli.js`. Returns what to do, or throws UsageError with one line saying what is wrong. */
export function parseArgs(argv: readonly string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (isHelp(first)) return { kind: 'help' };
  if (first === '--version') return { kind: 'version' };
  if (first === 'help') {
    if (rest[0] === undefined) return { kind: 'help' };
    if (!isCommand(rest[0])) throw new UsageError(`unknown command ${show(rest[0])} (commands: ${orList(commandNames)})`);
    return { kind: 'help', command: rest[0] };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (a command comes first: ${orList(commandNames)})`);
  if (!isCommand(first)) throw new UsageError(`unknown command ${show(first)} (commands: ${orList(commandNames)})`);
  const command = first;
  const specs: Readonly<Record<string, Option<unknown>>> = COMMANDS[command].options;
  const given = new Map<string, unknown>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (isHelp(a)) return { kind: 'help', command };
    if (a === '--version') return { kind: 'version' };
    if (!a.startsWith('--') || a === '--') {
      throw new UsageError(`unexpected argument ${show(a)} for tokenbutler ${command} (options start with --)`, command);
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const flagName = `--${name}`;
    if (!Object.prototype.hasOwnProperty.call(specs, name)) {
      const near = closest(name, Object.keys(specs));
      throw new UsageError(`unknown option ${flagName} for tokenbutler ${command}${near ? ` (did you mean --${near}?)` : ''}`, command);
    }
    if (given.has(name)) throw new UsageError(`${flagName} is given twice`, command);
    const spec = specs[name];
    if (spec.arg === undefined) {
      if (eq >= 0) throw new UsageError(`${flagName} takes no value`, command);
      given.set(name, true);
      continue;
    }
    let raw: string | undefined;
    if (eq >= 0) raw = a.slice(eq + 1);
    else {
      raw = rest[i + 1];
      // `--file --line 3`: the next option is not the value (write --file=--odd for such a name).
      if (raw === undefined || raw.startsWith('--')) throw new UsageError(`${flagName} needs a value (${spec.arg})`, command);
      i++;
    }
    try {
      given.set(name, spec.parse(raw, flagName));
    } catch (e) {
      throw e instanceof UsageError ? new UsageError(e.message, command) : e;
    }
  }
  const missing = Object.entries(specs).filter(([k, s]) => s.required && !given.has(k)).map(([k, s]) => `--${k} ${s.arg}`);
  if (missing.length) throw new UsageError(`tokenbutler ${command} is missing ${orList(missing, 'and')}`, command);
  const opts: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(specs)) opts[k] = given.has(k) ? given.get(k) : s.default;
  return { kind: 'run', command, opts } as Parsed;
}

/** The option name within two edits of `name`, if there is one (a typo's likely intent). */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

// --- usage -----------------------------------------------------------------------------------

function synopsis(command: CommandName): string {
  const specs: Readonly<Record<string, Option<unknown>>> = COMMANDS[command].options;
  const req = Object.entries(specs).filter(([, s]) => s.required).map(([k, s]) => `--${k} ${s.arg}`);
  return `tokenbutler ${command} ${[...req, '[options]'].join(' ')}`;
}

/** `tokenbutler --help`: the commands. */
export function usage(): string {
  const width = Math.max(...commandNames.map((c) => c.length));
  return [
    'usage: tokenbutler COMMAND [options]',
    '',
    'commands:',
    ...commandNames.map((c) => `  ${c.padEnd(width)}  ${COMMANDS[c].summary}`),
    '',
    ...commandNames.map((c) => `  ${synopsis(c)}`),
    '',
    'tokenbutler COMMAND --help   the options of COMMAND',
    'tokenbutler --version        the version',
    'Lines and columns are 1-based. Errors: one line on stderr; exit 2 for a bad command line, 1 for an engine error.',
  ].join('\n');
}

/** `tokenbutler COMMAND --help`: every option of the command, from its table. */
export function commandUsage(command: CommandName): string {
  const specs: Readonly<Record<string, Option<unknown>>> = COMMANDS[command].options;
  const rows = Object.entries(specs).map(([k, s]) => [`--${k}${s.arg ? ` ${s.arg}` : ''}`, `${s.help}${s.required ? ' [required]' : s.detail ? ` [${s.detail}]` : ''}`]);
  const width = Math.min(36, Math.max(...rows.map(([l]) => l.length)));
  return [
    `usage: ${synopsis(command)}`,
    COMMANDS[command].summary,
    '',
    'options:',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    `  ${'--help, -h'.padEnd(width)}  this text`,
  ].join('\n');
}

/** What follows a usage error's message: the command's synopsis, or without a command the usage. */
export function usageHint(command?: CommandName): string {
  return command ? `usage: ${synopsis(command)}\n(tokenbutler ${command} --help lists every option)` : usage();
}

// --- the document and positions in it --------------------------------------------------------

export interface Document {
  workspace: string; // absolute
  file: string; // workspace-relative, '/'-separated
  text: string;
}

/** Reads `--file` from `--workspace`, refusing a file outside the workspace (by path or by a
 *  symbolic link) before reading anything. `cwd` resolves a relative workspace. */
export function readDocument(workspaceArg: string, fileArg: string, cwd = process.cwd()): Document {
  const workspace = path.resolve(cwd, workspaceArg);
  let isDir: boolean;
  try {
    isDir = statSync(workspace).isDirectory();
  } catch (e) {
    throw new UsageError(`--workspace ${workspaceArg}: ${describeFsError(e)}`);
  }
  if (!isDir) throw new UsageError(`--workspace ${workspaceArg} is not a directory`);
  const file = normalizeRel(fileArg, workspace);
  if (!file) throw new UsageError(`--file ${fileArg} is outside the workspace ${workspace}`);
  const abs = path.join(workspace, file);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (e) {
    throw new UsageError(`--file ${fileArg}: ${describeFsError(e)} in the workspace ${workspace}`);
  }
  if (!isInside(realpathSync(workspace), real)) throw new UsageError(`--file ${fileArg} is a link to ${real}, outside the workspace ${workspace}`);
  if (statSync(real).isDirectory()) throw new UsageError(`--file ${fileArg} is a directory`);
  try {
    return { workspace, file, text: readFileSync(real, 'utf8') };
  } catch (e) {
    throw new UsageError(`--file ${fileArg}: ${describeFsError(e)}`);
  }
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (e as Error).message;
}

/** Start and end (before '\r\n' or '\n') of each line; lines are split at '\n' as positions.ts does. */
function lineBounds(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    let end = nl < 0 ? text.length : nl;
    if (end > start && text[end - 1] === '\r') end--;
    out.push({ start, end });
    if (nl < 0) return out;
    start = nl + 1;
  }
}

/** The UTF-16 offset of a 1-based (line, column) in the document. A position outside the text
 *  (lineColToOffset would clamp it), or one inside a surrogate pair, is a usage error naming the
 *  options that gave it. The line after a final newline exists (column 1), as in an editor. */
export function positionOffset(doc: Document, line: number, column: number, names: { line: string; column: string } = { line: '--line', column: '--column' }): number {
  const lines = lineBounds(doc.text);
  if (line < 1 || line > lines.length) {
    throw new UsageError(`${names.line} ${line} is out of range: ${doc.file} has ${lines.length} line${lines.length === 1 ? '' : 's'}`);
  }
  const { start, end } = lines[line - 1];
  const columns = end - start + 1; // one past the last character is where an editor's cursor can stand
  if (column < 1 || column > columns) {
    throw new UsageError(`${names.column} ${column} is out of range: line ${line} of ${doc.file} has columns 1-${columns}`);
  }
  const offset = lineColToOffset(doc.text, line, column);
  const hi = doc.text.charCodeAt(offset - 1);
  const lo = doc.text.charCodeAt(offset);
  if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
    throw new UsageError(`${names.column} ${column} splits a character in two (line ${line} of ${doc.file}; columns count UTF-16 code units)`);
  }
  return offset;
}

/** Offsets of explain's selection; it must be non-empty and end after it starts. */
export function selectionOffsets(doc: Document, o: OptionsOf<'explain'>): { start: number; end: number } {
  const start = positionOffset(doc, o['start-line'], o['start-column'], { line: '--start-line', column: '--start-column' });
  const end = positionOffset(doc, o['end-line'], o['end-column'], { line: '--end-line', column: '--end-column' });
  if (end < start) throw new UsageError(`the selection ends (--end-line ${o['end-line']} --end-column ${o['end-column']}) before it starts (--start-line ${o['start-line']} --start-column ${o['start-column']})`, 'explain');
  if (end === start) throw new UsageError('the selection is empty (its end is its start)', 'explain');
  return { start, end };
}
