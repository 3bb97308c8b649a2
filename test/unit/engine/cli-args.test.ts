// The command line's parsing and validation (src/engine/cli-args.ts), without the engine: typed
// options from each command's table, one clear message per mistake, positions checked against
// the document text, files outside the workspace refused.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lineColToOffset } from '../../../src/context/positions';
import {
  COMMANDS, CommandName, commandUsage, Document, parseArgs, positionOffset, readDocument, selectionOffsets, usage, usageHint, UsageError,
} from '../../../src/engine/cli-args';

const place = ['--workspace', 'ws', '--file', 'a.ts', '--line', '3', '--column', '5'];

function run(argv: string[]) {
  const p = parseArgs(argv);
  if (p.kind !== 'run') throw new Error(`expected a command to run, got ${p.kind}`);
  return p;
}

/** The UsageError message parseArgs throws for argv (fails the test if it does not throw one). */
function error(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parseArgs: values', () => {
  it('complete gets typed values and the documented defaults', () => {
    const p = run(['complete', ...place]);
    expect(p.command).toBe('complete');
    expect(p.opts).toEqual({
      workspace: 'ws', file: 'a.ts', line: 3, column: 5, policy: 'tokenbutler', budget: 512, 'max-new-tokens': 64, 'no-monitors': false,
      model: undefined, 'max-context-tokens': 16384, prefill: 'sparse', interval: 4, 'contextual-sparsity': { mode: 'off', keep: 1 }, json: false, verbose: false,
    });
  });

  it('--contextual-sparsity takes MODE or MODE:KEEP; bench --contextual a list of them', () => {
    expect(run(['complete', ...place, '--contextual-sparsity', 'neurons']).opts['contextual-sparsity']).toEqual({ mode: 'neurons', keep: 0.75 });
    expect(run(['complete', ...place, '--contextual-sparsity=both:0.5']).opts['contextual-sparsity']).toEqual({ mode: 'both', keep: 0.5 });
    expect(run(['complete', ...place, '--contextual-sparsity=heads:1']).opts['contextual-sparsity']).toEqual({ mode: 'heads', keep: 1 });
    expect(run(['bench']).opts).toMatchObject({ contextual: [] });
    expect(run(['bench', '--contextual', 'off,neurons:0.5,both']).opts).toMatchObject({ contextual: [
      { mode: 'off', keep: 1 }, { mode: 'neurons', keep: 0.5 }, { mode: 'both', keep: 0.75 },
    ] });
    expect(error(['bench', '--contextual', 'neurons,neurons'])).toMatch(/^--contextual lists neurons twice$/);
    expect(error(['bench', '--contextual', 'neurons:0'])).toMatch(/^--contextual must keep a share in \(0, 1\] \(MODE:KEEP\), got "0"$/);
  });

  it('every given option replaces its default, in "--k v" and "--k=v" form', () => {
    const p = run(['complete', ...place, '--policy=dense', '--budget', '16', '--max-new-tokens=4', '--model', 'm', '--max-context-tokens', '4096',
      '--prefill', 'dense', '--interval=16', '--json', '--verbose']);
    expect(p.opts).toMatchObject({ policy: 'dense', budget: 16, 'max-new-tokens': 4, model: 'm', 'max-context-tokens': 4096, prefill: 'dense', interval: 16, json: true, verbose: true });
  });

  it('options may come in any order', () => {
    const p = run(['complete', '--json', '--column', '1', '--line', '2', '--file', 'f', '--workspace', 'w']);
    expect(p.opts).toMatchObject({ workspace: 'w', file: 'f', line: 2, column: 1, json: true });
  });

  it('explain takes a selection; bench takes lists', () => {
    const e = run(['explain', '--workspace', 'w', '--file', 'f', '--start-line', '1', '--start-column', '2', '--end-line', '3', '--end-column', '4']);
    expect(e.opts).toMatchObject({ 'start-line': 1, 'start-column': 2, 'end-line': 3, 'end-column': 4, policy: 'tokenbutler' });
    const b = run(['bench']);
    expect(b.opts).toMatchObject({ context: [2048, 8192, 16384, 32768], policies: ['dense', 'window', 'tokenbutler'], budget: 512, steps: 16, 'no-warm': false });
    const b2 = run(['bench', '--context', '64,40000', '--policies', 'tokenbutler', '--steps', '24', '--no-warm', '--json']);
    expect(b2.opts).toMatchObject({ context: [64, 40000], policies: ['tokenbutler'], steps: 24, 'no-warm': true, json: true });
  });

  it('a value may start with a single dash or contain "="', () => {
    const p = run(['complete', '--workspace', '-odd-dir', '--file', 'a=b.ts', '--line', '1', '--column', '1']);
    expect(p.opts).toMatchObject({ workspace: '-odd-dir', file: 'a=b.ts' });
    expect(run(['complete', ...place, '--model=x=y']).opts.model).toBe('x=y');
  });

  it('the arguments bench/run.mjs passes are accepted', () => {
    const b = run(['bench', '--json', '--context', '2048,8192,16384,32768', '--budget', '512', '--steps', '24', '--max-context-tokens', '40000', '--peer', 'f16']);
    expect(b.opts).toMatchObject({ json: true, budget: 512, steps: 24, 'max-context-tokens': 40000, peer: ['f16'] });
  });

  it('bench --peer takes GGUF weight types; none by default', () => {
    expect(run(['bench']).opts).toMatchObject({ peer: [] });
    expect(run(['bench', '--peer', 'f16,q8_0']).opts).toMatchObject({ peer: ['f16', 'q8_0'] });
    expect(() => parseArgs(['bench', '--peer', 'q4_k'])).toThrow(/--peer takes f16, q8_0 or f32, got "q4_k"/);
  });

  it('bench --auto-dense and --dense-below N turn the crossover switch on', () => {
    expect(run(['bench']).opts).toMatchObject({ 'auto-dense': false, 'dense-below': undefined });
    expect(run(['bench', '--auto-dense', '--dense-below', '0']).opts).toMatchObject({ 'auto-dense': true, 'dense-below': 0 });
  });
});

describe('parseArgs: help and version', () => {
  it('--help, -h and help print the overview; after a command, that command', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseArgs(['help'])).toEqual({ kind: 'help' });
    for (const c of Object.keys(COMMANDS) as CommandName[]) {
      expect(parseArgs([c, '--help'])).toEqual({ kind: 'help', command: c });
      expect(parseArgs([c, '-h'])).toEqual({ kind: 'help', command: c });
      expect(parseArgs(['help', c])).toEqual({ kind: 'help', command: c });
    }
  });

  it('help wins over missing options, and over options after it', () => {
    expect(parseArgs(['complete', '--line', '3', '--help', '--bogus'])).toEqual({ kind: 'help', command: 'complete' });
  });

  it('--version', () => {
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['bench', '--version'])).toEqual({ kind: 'version' });
  });

  it('every option of every command is in its --help and the required ones in its synopsis', () => {
    for (const [c, spec] of Object.entries(COMMANDS) as [CommandName, (typeof COMMANDS)[CommandName]][]) {
      const text = commandUsage(c);
      const first = text.split('\n')[0];
      for (const [name, o] of Object.entries(spec.options)) {
        expect(text).toMatch(new RegExp(`^  --${name}\\b`, 'm'));
        if (o.required) expect(first).toContain(`--${name} ${o.arg}`);
        else expect(first).not.toContain(`--${name} `);
      }
      expect(usage()).toContain(`tokenbutler ${c} `);
      expect(usageHint(c)).toContain(first.replace(/^usage: /, ''));
    }
    expect(commandUsage('complete')).toMatch(/--budget N +.*16-1048576, default 512/);
    expect(commandUsage('complete')).toMatch(/--policy tokenbutler\|dense\|window +.*default tokenbutler/);
  });
});

describe('parseArgs: every mistake is one line naming it', () => {
  it.each([
    [[], /^no command given$/],
    [['compleet'], /unknown command "compleet".*complete, explain or bench/],
    [['--json'], /unknown option --json \(a command comes first/],
    [['help', 'nope'], /unknown command "nope"/],
    [['complete', ...place, '--bogus'], /^unknown option --bogus for tokenbutler complete$/],
    [['complete', ...place, '--bugdet', '64'], /unknown option --bugdet for tokenbutler complete \(did you mean --budget\?\)/],
    [['complete', ...place, '--context', '2048'], /unknown option --context for tokenbutler complete/],
    [['bench', '--line', '3'], /unknown option --line for tokenbutler bench/],
    [['explain', '--max-new-tokens', '3'], /unknown option --max-new-tokens for tokenbutler explain/],
    [['complete', ...place, 'extra'], /unexpected argument "extra" for tokenbutler complete/],
    [['complete', ...place, '-j'], /unexpected argument "-j"/],
    [['complete', ...place, '--'], /unexpected argument "--"/],
    [['complete', ...place, '--budget', '64', '--budget', '128'], /^--budget is given twice$/],
    [['complete', ...place, '--json=yes'], /^--json takes no value$/],
    [['complete', '--workspace', '--file', 'a.ts'], /^--workspace needs a value \(DIR\)$/],
    [['complete', ...place, '--budget'], /^--budget needs a value \(N\)$/],
    [['complete', ...place, '--model='], /^--model needs a value \(DIR\), got an empty string$/],
    [['complete', '--json'], /^tokenbutler complete is missing --workspace DIR, --file REL, --line N and --column N$/],
    [['complete', '--workspace', 'w', '--file', 'f', '--line', '1'], /^tokenbutler complete is missing --column N$/],
    [['explain', '--workspace', 'w', '--file', 'f'], /missing --start-line N, --start-column N, --end-line N and --end-column N$/],
  ])('%j', (argv, re) => {
    expect(error(argv as string[])).toMatch(re);
  });

  it.each([
    ['--line', 'abc', /^--line must be an integer >= 1, got "abc"$/],
    ['--line', '', /^--line must be an integer >= 1, got ""$/],
    ['--line', '-1', /^--line must be an integer >= 1, got "-1"$/],
    ['--line', '0', /^--line must be an integer >= 1, got "0"$/],
    ['--line', '1.5', /got "1\.5"/],
    ['--line', '1e3', /got "1e3"/],
    ['--line', '0x10', /got "0x10"/],
    ['--line', ' 12', /got " 12"/],
    ['--column', '12abc', /^--column must be an integer >= 1, got "12abc"$/],
    ['--line', '99999999999999999999', /^--line must be an integer >= 1/],
    ['--budget', '15', /^--budget must be an integer 16-1048576, got "15"$/],
    ['--budget', 'lots', /^--budget must be an integer 16-1048576, got "lots"$/],
    ['--policy', 'sparse', /^--policy must be tokenbutler, dense or window, got "sparse"$/],
    ['--prefill', 'fast', /^--prefill must be sparse or dense, got "fast"$/],
    ['--interval', '0', /^--interval must be an integer 1-16, got "0"$/],
    ['--interval', '17', /^--interval must be an integer 1-16, got "17"$/],
    ['--contextual-sparsity', 'ffn', /^--contextual-sparsity must be off, heads, neurons or both, optionally with :KEEP \(e\.g\. neurons:0\.75\), got "ffn"$/],
    ['--contextual-sparsity', 'neurons:1.5', /^--contextual-sparsity must keep a share in \(0, 1\] \(MODE:KEEP\), got "1\.5"$/],
    ['--contextual-sparsity', 'neurons:-0.5', /got "-0\.5"/],
    ['--contextual-sparsity', 'off:0.5', /^--contextual-sparsity must be off alone \(off keeps everything\), got "off:0\.5"$/],
    ['--contextual-sparsity', 'neurons:0.5:1', /optionally with :KEEP/],
    ['--max-new-tokens', '0', /^--max-new-tokens must be an integer 1-1024, got "0"$/],
    ['--max-context-tokens', '100', /^--max-context-tokens must be an integer 256-131072, got "100"$/],
    ['--max-context-tokens', '131073', /^--max-context-tokens must be an integer 256-131072, got "131073"$/],
  ])('complete %s %j', (flag, value, re) => {
    const argv = ['complete', ...place.filter((_, i) => place[i] !== flag && place[i - 1] !== flag), `${flag}=${value}`];
    expect(error(argv)).toMatch(re);
  });

  it.each([
    ['--context', '2048,,8192', /^--context takes a comma-separated list \(N,N,\.\.\.\) with no empty items, got "2048,,8192"$/],
    ['--context', '2048,', /no empty items/],
    ['--context', '2048,abc', /^each item of --context must be an integer >= 64, got "abc"$/],
    ['--context', '2048;8192', /^each item of --context must be an integer >= 64, got "2048;8192"$/],
    ['--context', '32', /^each item of --context must be an integer >= 64, got "32"$/],
    ['--context', '2048,2048', /^--context lists 2048 twice$/],
    ['--policies', 'dense,fast', /^--policies takes tokenbutler, dense or window, got "fast"$/],
    ['--policies', 'dense,', /no empty items/],
    ['--steps', '0', /^--steps must be an integer >= 1, got "0"$/],
  ])('bench %s %j', (flag, value, re) => {
    expect(error(['bench', flag, value])).toMatch(re);
  });

  it('the error knows its command (for the usage printed after it)', () => {
    try {
      parseArgs(['bench', '--budget', '1']);
    } catch (e) {
      expect((e as UsageError).command).toBe('bench');
    }
    expect.assertions(1);
  });
});

describe('positions against the document text', () => {
  const doc = (text: string): Document => ({ workspace: '/ws', file: 'a.ts', text });

  it('every position an editor can show maps to the offset lineColToOffset gives', () => {
    const d = doc('ab\r\n\nxyz\n');
    const lines = [['a', 'b'], [], ['x', 'y', 'z'], []];
    let checked = 0;
    lines.forEach((chars, i) => {
      for (let c = 1; c <= chars.length + 1; c++) {
        expect(positionOffset(d, i + 1, c)).toBe(lineColToOffset(d.text, i + 1, c));
        checked++;
      }
    });
    expect(checked).toBe(3 + 1 + 4 + 1);
    expect(positionOffset(d, 3, 4)).toBe(8); // just after "xyz"
    expect(positionOffset(d, 4, 1)).toBe(d.text.length); // the line after the final newline
  });

  it('a line past the end is refused, not clamped', () => {
    expect(() => positionOffset(doc('one\ntwo\n'), 4, 1)).toThrow(/^--line 4 is out of range: a\.ts has 3 lines$/);
    expect(() => positionOffset(doc('one\ntwo'), 3, 1)).toThrow(/^--line 3 is out of range: a\.ts has 2 lines$/);
    expect(() => positionOffset(doc(''), 2, 1)).toThrow(/has 1 line$/);
    expect(() => positionOffset(doc('x'), 0, 1)).toThrow(/^--line 0 is out of range/);
  });

  it('a column past the end of its line is refused; "\\r" of a CRLF is not a column', () => {
    expect(() => positionOffset(doc('ab\r\ncd'), 1, 4)).toThrow(/^--column 4 is out of range: line 1 of a\.ts has columns 1-3$/);
    expect(positionOffset(doc('ab\r\ncd'), 1, 3)).toBe(2);
    expect(() => positionOffset(doc('ab\ncd'), 2, 0)).toThrow(/^--column 0 is out of range/);
    expect(positionOffset(doc(''), 1, 1)).toBe(0);
    expect(() => positionOffset(doc(''), 1, 2)).toThrow(/columns 1-1$/);
  });

  it('a column inside a surrogate pair is refused; before and after it are fine', () => {
    const d = doc('a\u{1F600}b'); // the emoji is two UTF-16 code units: columns 2 and 3
    expect(positionOffset(d, 1, 2)).toBe(1);
    expect(() => positionOffset(d, 1, 3)).toThrow(/^--column 3 splits a character in two/);
    expect(positionOffset(d, 1, 4)).toBe(3);
  });

  it('errors name the options that gave the position', () => {
    expect(() => positionOffset(doc('x'), 5, 1, { line: '--end-line', column: '--end-column' })).toThrow(/^--end-line 5/);
  });

  it('an explain selection must end after it starts', () => {
    const d = doc('const a = 1;\nconst b = 2;\n');
    const sel = (sl: number, sc: number, el: number, ec: number) =>
      selectionOffsets(d, run(['explain', '--workspace', 'w', '--file', 'f', '--start-line', `${sl}`, '--start-column', `${sc}`, '--end-line', `${el}`, '--end-column', `${ec}`]).opts as never);
    expect(sel(1, 7, 2, 8)).toEqual({ start: 6, end: 20 });
    expect(() => sel(2, 1, 1, 5)).toThrow(/^the selection ends \(--end-line 1 --end-column 5\) before it starts \(--start-line 2 --start-column 1\)$/);
    expect(() => sel(1, 3, 1, 3)).toThrow(/^the selection is empty/);
    expect(() => sel(1, 1, 3, 2)).toThrow(/^--end-column 2 is out of range: line 3/);
    expect(() => sel(9, 1, 1, 1)).toThrow(/^--start-line 9 is out of range/);
  });
});

describe('readDocument: the file must be inside the workspace', () => {
  let root: string;
  let ws: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'tb-cli-args-'));
    ws = path.join(root, 'ws');
    mkdirSync(path.join(ws, 'src'), { recursive: true });
    writeFileSync(path.join(ws, 'src/a.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(root, 'outside.ts'), 'secret\n');
    symlinkSync(path.join(root, 'outside.ts'), path.join(ws, 'src/escape.ts'));
    symlinkSync(path.join(ws, 'src/a.ts'), path.join(ws, 'alias.ts'));
  });

  it('reads a workspace-relative file; the workspace is resolved from cwd', () => {
    expect(readDocument(ws, 'src/a.ts')).toEqual({ workspace: ws, file: 'src/a.ts', text: 'export const a = 1;\n' });
    expect(readDocument('ws', './src//a.ts', root)).toMatchObject({ workspace: ws, file: 'src/a.ts' });
  });

  it('an absolute path inside the workspace becomes workspace-relative', () => {
    expect(readDocument(ws, path.join(ws, 'src/a.ts')).file).toBe('src/a.ts');
  });

  it('a link to a file inside the workspace is fine', () => {
    expect(readDocument(ws, 'alias.ts')).toMatchObject({ file: 'alias.ts', text: 'export const a = 1;\n' });
  });

  it.each([
    ['../outside.ts', /^--file \.\.\/outside\.ts is outside the workspace /],
    ['src/../../outside.ts', /is outside the workspace/],
    ['..', /is outside the workspace/],
    ['.', /is outside the workspace/],
  ])('refuses %s', (file, re) => {
    expect(() => readDocument(ws, file)).toThrow(re);
  });

  it('refuses an absolute path elsewhere, and a link that leads out', () => {
    expect(() => readDocument(ws, path.join(root, 'outside.ts'))).toThrow(/is outside the workspace/);
    expect(() => readDocument(ws, 'src/escape.ts')).toThrow(/^--file src\/escape\.ts is a link to .*outside\.ts, outside the workspace /);
  });

  it('a missing file, a directory, a missing or non-directory workspace: one line each', () => {
    expect(() => readDocument(ws, 'src/nope.ts')).toThrow(/^--file src\/nope\.ts: no such file or directory in the workspace /);
    expect(() => readDocument(ws, 'src')).toThrow(/^--file src is a directory$/);
    expect(() => readDocument(path.join(root, 'nope'), 'a.ts')).toThrow(/^--workspace .*nope: no such file or directory$/);
    expect(() => readDocument(path.join(root, 'outside.ts'), 'a.ts')).toThrow(/^--workspace .*outside\.ts is not a directory$/);
  });

  it('every refusal is a UsageError', () => {
    for (const f of ['../outside.ts', 'src/nope.ts', 'src/escape.ts']) {
      expect(() => readDocument(ws, f)).toThrow(UsageError);
    }
  });
});
