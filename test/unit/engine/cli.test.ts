// The built CLI (dist/cli.js) as a user runs it: --help and --version exit 0 on stdout, a missing
// command exits 2 with the usage on stderr, and every bad argument exits 2 with one line saying
// what is wrong, before any model is loaded. Completions themselves are in robustness.test.ts.
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, CommandName } from '../../../src/engine/cli-args';

const exec = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const cli = path.join(root, 'dist/cli.js');
const ws = path.join(root, 'test/fixtures/ws');
const mainLines = readFileSync(path.join(ws, 'src/main.ts'), 'utf8').split('\n').length;
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;

async function tokenbutler(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [cli, ...args], { cwd: root, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  await exec(process.execPath, [path.join(root, 'esbuild.mjs')], { cwd: root });
}, 60_000);

describe('help and version', () => {
  it.each([['--help'], ['-h'], ['help']])('tokenbutler %s prints the commands and exits 0', async (flag) => {
    const r = await tokenbutler([flag]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: tokenbutler COMMAND/);
    for (const c of Object.keys(COMMANDS)) expect(r.stdout).toContain(`tokenbutler ${c} `);
  });

  it.each(Object.keys(COMMANDS).flatMap((c) => [[c, '--help'], [c, '-h']]))('tokenbutler %s %s lists every option of the command and exits 0', async (c, flag) => {
    const r = await tokenbutler([c, flag]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^usage: tokenbutler ${c} `));
    for (const name of Object.keys(COMMANDS[c as CommandName].options)) expect(r.stdout).toMatch(new RegExp(`^  --${name}\\b`, 'm'));
  });

  it('--version prints the package version and exits 0', async () => {
    const r = await tokenbutler(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('no command: the usage on stderr, exit 2', async () => {
    const r = await tokenbutler([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('tokenbutler: no command given');
    expect(lines[1]).toMatch(/^usage: tokenbutler COMMAND/);
    expect(r.stderr).toContain('tokenbutler complete --workspace DIR');
  });
});

describe('bad arguments: exit 2, one line saying what is wrong, nothing on stdout', () => {
  const at = (line: string, column: string) => ['complete', '--workspace', ws, '--file', 'src/main.ts', '--line', line, '--column', column];
  let outsideLink: string;
  beforeAll(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-cli-'));
    writeFileSync(path.join(dir, 'x.ts'), 'outside\n');
    // a workspace with a link leading out of it
    const w = mkdtempSync(path.join(tmpdir(), 'tb-cli-ws-'));
    symlinkSync(path.join(dir, 'x.ts'), path.join(w, 'link.ts'));
    outsideLink = w;
  });

  const cases: [string, () => string[], RegExp][] = [
    ['line past the end', () => at('999', '1'), new RegExp(`^tokenbutler: --line 999 is out of range: src/main\\.ts has ${mainLines} lines$`)],
    ['line past the end, column 0', () => at('999', '0'), /^tokenbutler: --column must be an integer >= 1, got "0"$/],
    ['column past the end of the line', () => at('1', '200'), /^tokenbutler: --column 200 is out of range: line 1 of src\/main\.ts has columns 1-\d+$/],
    ['missing file', () => ['complete', '--workspace', ws, '--file', 'src/nope.ts', '--line', '1', '--column', '1'], /^tokenbutler: --file src\/nope\.ts: no such file or directory in the workspace /],
    ['file outside the workspace', () => ['complete', '--workspace', ws, '--file', '../x.ts', '--line', '1', '--column', '1'], /^tokenbutler: --file \.\.\/x\.ts is outside the workspace /],
    ['absolute path elsewhere', () => ['complete', '--workspace', ws, '--file', path.join(root, 'package.json'), '--line', '1', '--column', '1'], /is outside the workspace/],
    ['link out of the workspace', () => ['complete', '--workspace', outsideLink, '--file', 'link.ts', '--line', '1', '--column', '1'], /^tokenbutler: --file link\.ts is a link to .*x\.ts, outside the workspace/],
    ['missing workspace', () => ['complete', '--workspace', path.join(ws, 'nope'), '--file', 'a.ts', '--line', '1', '--column', '1'], /^tokenbutler: --workspace .*nope: no such file or directory$/],
    ['unknown policy', () => [...at('1', '1'), '--policy', 'sparse'], /^tokenbutler: --policy must be tokenbutler, dense or window, got "sparse"$/],
    ['budget < 16', () => [...at('1', '1'), '--budget', '8'], /^tokenbutler: --budget must be an integer 16-1048576, got "8"$/],
    ['unknown option', () => [...at('1', '1'), '--temperature', '2'], /^tokenbutler: unknown option --temperature for tokenbutler complete$/],
    ['an option of another command', () => ['bench', '--line', '3'], /^tokenbutler: unknown option --line for tokenbutler bench$/],
    ['non-numeric number', () => at('ten', '1'), /^tokenbutler: --line must be an integer >= 1, got "ten"$/],
    ['malformed context list', () => ['bench', '--context', '2048,,8192'], /^tokenbutler: --context takes a comma-separated list/],
    ['context list item not a number', () => ['bench', '--context', '2k'], /^tokenbutler: each item of --context must be an integer >= 64, got "2k"$/],
    ['unknown policy in the list', () => ['bench', '--policies', 'dense,h2o'], /^tokenbutler: --policies takes tokenbutler, dense or window, got "h2o"$/],
    ['missing options', () => ['complete', '--json'], /^tokenbutler: tokenbutler complete is missing --workspace DIR, --file REL, --line N and --column N$/],
    ['unknown command', () => ['--help-me'], /^tokenbutler: unknown option --help-me/],
    ['explain selection reversed', () => ['explain', '--workspace', ws, '--file', 'src/main.ts', '--start-line', '6', '--start-column', '3', '--end-line', '5', '--end-column', '1'],
      /^tokenbutler: the selection ends \(--end-line 5 --end-column 1\) before it starts/],
    ['explain end past the line', () => ['explain', '--workspace', ws, '--file', 'src/main.ts', '--start-line', '6', '--start-column', '3', '--end-line', '6', '--end-column', '480'],
      /^tokenbutler: --end-column 480 is out of range: line 6 of src\/main\.ts/],
  ];

  it.each(cases)('%s', async (_, args, firstLine) => {
    const r = await tokenbutler(args());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(firstLine);
    // what follows is the command's usage, never a stack trace
    expect(lines[1]).toMatch(/^usage: tokenbutler /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('--json changes nothing about errors', async () => {
    const r = await tokenbutler([...at('999', '1'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toMatch(/--line 999 is out of range/);
  });
});
