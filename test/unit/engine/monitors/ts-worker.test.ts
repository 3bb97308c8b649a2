// The real language-service worker, bundled from source for this test: what a names query gives
// the ranking besides the names (their kinds, the parameter an argument fills).
import { build } from 'esbuild';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsService } from '../../../../src/engine/monitors/ts-service';

const root = path.resolve(__dirname, '../../../..');
const outfile = path.join(root, 'out', 'test', 'ts-worker-under-test.js');
let ts: TsService;

beforeAll(async () => {
  await build({ entryPoints: [path.join(root, 'src/engine/monitors/ts-worker.ts')], outfile, bundle: true, platform: 'node', format: 'cjs', external: ['typescript'], logLevel: 'silent' });
  ts = new TsService(outfile);
}, 60_000);
afterAll(async () => {
  await ts?.close();
});

describe('language-service worker', () => {
  it('a new file set updates the program at once, before any query (a file opened: the warmup)', async () => {
    ts.setFiles([{ name: 'first.ts', text: 'export const one = 1;\n' }]);
    expect(await ts.whenReady(30_000)).toBe(true);
    const shapes = Array.from({ length: 40 }, (_, i) => `export class Shape${i} { area${i}(): number { return ${i}; } }`).join('\n');
    ts.setFiles([{ name: 'shapes.ts', text: shapes }]);
    // no query in between: the worker's answer to `holding` comes after the update it ran for the new set
    const held = await ts.holding(30_000);
    expect(held?.updateMs).toBeGreaterThan(0);
    expect(held?.files).toBe(1); // first.ts dropped, shapes.ts in (the warm-up file not counted)
    expect(held?.programFiles).toBeGreaterThan(1); // shapes.ts and the lib declarations
    expect(held?.heapMb).toBeGreaterThan(0);
    const head = "import { Shape7 } from './shapes';\nconst s = new Shape7();\n";
    const r = await ts.names('use.ts', head + 's.', head.length + 2, 10_000);
    expect(r?.names).toContain('area7');
  }, 60_000);

  it('names each member\'s kind, and the parameter an argument fills', async () => {
    const lib = 'export class Timer {\n  size = 1;\n  run(): void {}\n}\nexport function schedule(timeoutMs: number, label: string): void {}\n';
    ts.setFiles([{ name: 'lib.ts', text: lib }]);
    expect(await ts.whenReady(30_000)).toBe(true);
    const head = "import { Timer, schedule } from './lib';\nconst t = new Timer();\nconst wait = 5;\n";
    const member = await ts.names('a.ts', head + 't.', head.length + 2, 10_000);
    const kinds = new Map(member!.names.map((n, i) => [n, member!.kinds![i]]));
    expect(kinds.get('run')).toBe('method');
    expect(kinds.get('size')).toBe('property');
    expect(member!.param).toBeUndefined();
    const text = head + 'schedule(wait, ';
    const arg = await ts.names('a.ts', text, text.length, 10_000);
    expect(arg!.param).toBe('label');
    expect(arg!.kinds![arg!.names.indexOf('wait')]).toBe('const');
    expect(arg!.kinds![arg!.names.indexOf('Timer')]).toBe('alias');
  }, 60_000);

  it('reads the cursor\'s position: a type, else nothing (a new parameter, an expression)', async () => {
    ts.setFiles([{ name: 'lib.ts', text: 'export class Timer {}\n' }]);
    expect(await ts.whenReady(30_000)).toBe(true);
    const head = "import { Timer } from './lib';\nconst wait = 5;\n";
    const query = async (line: string, rest = '\n') => (await ts.names('p.ts', head + line + rest, head.length + line.length, 10_000))?.position;
    expect(await query('let t: ')).toBe('type');
    expect(await query('function go(', ') {}\n')).toBeUndefined();
    expect(await query('go(')).toBeUndefined();
    expect(await query('const v = ')).toBeUndefined();
  }, 60_000);

  it('at a call\'s open bracket: how many arguments its signatures take, over all overloads', async () => {
    const lib = [
      'export function none(): void {}',
      'export function two(a: number, b?: string): void {}',
      'export function rest(first: number, ...more: number[]): void {}',
      'export function over(): void;',
      'export function over(a: number): void;',
      'export function over(a?: number): void {}',
      'export class Box { size(): number { return 1; } }',
    ].join('\n');
    ts.setFiles([{ name: 'lib.ts', text: lib }]);
    expect(await ts.whenReady(30_000)).toBe(true);
    const head = "import { none, two, rest, over, Box } from './lib';\nconst b = new Box();\n";
    const at = async (call: string) => (await ts.names('a.ts', head + call, (head + call).length, 10_000))?.arity;
    expect(await at('none(')).toEqual({ min: 0, max: 0 });
    expect(await at('two(')).toEqual({ min: 1, max: 2 });
    expect(await at('rest(')).toEqual({ min: 1, max: Infinity });
    expect(await at('over(')).toEqual({ min: 0, max: 1 });
    expect(await at('b.size(')).toEqual({ min: 0, max: 0 });
    expect(await at('const x = ')).toBeUndefined(); // not in a call
  }, 60_000);

  it('after `receiver.` where a type is expected: the members whose type or call result fits it', async () => {
    const lib = 'export interface Opts {\n  count: number;\n  label: string;\n  total(): number;\n  signal: AbortSignal | undefined;\n}\nexport function take(n: number): void {}\n';
    ts.setFiles([{ name: 'lib.ts', text: lib }]);
    expect(await ts.whenReady(30_000)).toBe(true);
    const head = "import { Opts, take } from './lib';\ndeclare const o: Opts;\n";
    const fitsAt = async (text: string) => (await ts.names('a.ts', head + text, (head + text).length, 10_000))?.fits;
    // a number is expected: the number member and the method returning one fit, the string and the signal do not
    expect((await fitsAt('const n: number = o.'))?.sort()).toEqual(['count', 'total']);
    expect((await fitsAt('take(o.'))?.sort()).toEqual(['count', 'total']);
    expect(await fitsAt('const s: { label: string } = { label: o.')).toEqual(['label']);
    // nothing expected (a statement start, an untyped declaration): no evidence
    expect(await fitsAt('o.')).toBeUndefined();
    expect(await fitsAt('const x = o.')).toBeUndefined();
  }, 60_000);

  it('a query past its deadline (TypeScript throws its cancellation, no Error) leaves the worker answering', async () => {
    ts.setFiles([{ name: 'lib.ts', text: 'export function schedule(timeoutMs: number): void {}\n' + 'export const x = 1;\n'.repeat(2000) }]);
    const text = "import { schedule } from './lib';\nconst wait = 5;\nschedule(";
    for (let i = 0; i < 3; i++) await ts.names('a.ts', text + ' '.repeat(i), text.length, 1);
    const r = await ts.names('a.ts', text, text.length, 10_000);
    expect(r?.names).toContain('wait');
    expect(ts.stats.failed).toBeUndefined();
  }, 60_000);
});
