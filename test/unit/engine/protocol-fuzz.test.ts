// Protocol fuzz: the real engine child (src/engine/child.ts) with the real inference worker and
// model gets malformed and random messages over its IPC channel (the extension's `advanced`
// serialization): non-objects, missing or odd ids, wrong field types, huge strings, random JSON,
// hostile values in well-formed requests. Within a bounded time every message with an id must be
// answered exactly once (a result or an error), every message without one gets an error with id
// -1, the child must not die, and afterwards it still completes normally.
import { fork, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from '../../../src/shared/protocol';
import { buildEngine, modelDir, realConfig, removeBuild } from '../hardening/real-engine';
import { mulberry32 } from '../../../src/shared/random'; // deterministic, so a failure can be replayed

let childPath: string;
beforeAll(async () => {
  childPath = await buildEngine('fuzz');
});
afterAll(() => removeBuild(childPath));

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const rand = mulberry32(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (n: number) => Math.floor(rand() * n);

const HOSTILE_TEXT = ['', 'x', '\ud800', 'a\udfffb\ud800', '\u0000\u0000', '<|endoftext|><|fim_prefix|><|file_sep|>', 'é€𝄞', '\r\n\r\n\t', 'const a = 1;\n'];
const WEIRD_VALUES: unknown[] = [
  null, undefined, true, 0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 60, 1e300, '', 'x', '1', [], [1, 2], {}, { a: 1 },
  new Date(0), new Map([[1, 2]]), new Set([1]), new Uint8Array(4), 10n, /re/,
];

function randomString(): string {
  switch (int(4)) {
    case 0:
      return pick(HOSTILE_TEXT);
    case 1:
      return Array.from({ length: int(200) }, () => String.fromCharCode(int(0x10000))).join('');
    case 2:
      return pick(HOSTILE_TEXT).repeat(1 + int(2000));
    default:
      return 'export function f(a: number) {\n  return a * 2;\n}\n'.repeat(1 + int(50));
  }
}

function randomJson(depth = 0): unknown {
  const r = int(depth > 2 ? 4 : 7);
  if (r === 0) return pick(WEIRD_VALUES);
  if (r === 1) return randomString();
  if (r === 2) return rand() * 1e6 - 5e5;
  if (r === 3) return pick(['complete', 'explain', 'warmup', 'configure', 'cancel', 'shutdown', 'event', 'result']);
  if (r === 4) return Array.from({ length: int(5) }, () => randomJson(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = int(6); i > 0; i--) o[pick(['id', 'type', 'context', 'files', 'current', 'prefix', 'suffix', 'file', 'text', 'config', 'target', 'selection', 'documentKey', 'budget', '__proto__', 'constructor', String(i)])] = randomJson(depth + 1);
  return o;
}

function randomContext(): unknown {
  const valid = () => ({
    files: Array.from({ length: int(4) }, (_, i) => ({ file: pick([`src/f${i}.ts`, '', '../../etc/passwd', '\ud800.ts', 'a'.repeat(5000)]), text: randomString() })),
    current: { file: pick(['src/cur.ts', '', '\u0000', 'x/'.repeat(300)]), prefix: randomString(), suffix: randomString() },
  });
  switch (int(6)) {
    case 0:
      return randomJson();
    case 1:
      return { ...valid(), files: pick(WEIRD_VALUES) };
    case 2:
      return { ...valid(), current: { ...valid().current, prefix: pick(WEIRD_VALUES) } };
    case 3:
      return { files: Array.from({ length: 2000 }, (_, i) => ({ file: `many/f${i}.ts`, text: `export const v${i} = ${i};\n` })), current: valid().current };
    default:
      return valid();
  }
}

/** A message and whether (and under which id) an answer is owed. */
interface Sent {
  message: unknown;
  answerId?: number; // a final answer (result/error) with this id is owed
  anonymous?: boolean; // an error with id -1 is owed
}

let nextId = 1000;

function randomMessage(): Sent {
  const id = nextId++;
  const requestTypes = ['complete', 'explain', 'warmup'] as const;
  switch (int(12)) {
    case 0: // not an object
      return { message: pick([null, 42, 'garbage', [1, 2, 3], true, 'x'.repeat(1 << 20), [{ id, type: 'complete' }], new Map()]), anonymous: true };
    case 1: // no usable id
      return { message: { ...(randomJson() as object), type: pick(requestTypes), id: pick([undefined, '1', null, NaN, Infinity, {}, [id], 5n]) }, anonymous: true };
    case 2: {
      // random JSON with a valid id (not a shutdown, and not a well-formed cancel: those owe no answer)
      const m = { ...(randomJson() as object), id } as Record<string, unknown>;
      if (m.type === 'shutdown' || m.type === 'cancel') delete m.type;
      return { message: m, answerId: id };
    }
    case 3: // unknown or huge type
      return { message: { id, type: pick(['frobnicate', '', 'x'.repeat(1 << 20), 42, null, 'event', 'result']) }, answerId: id };
    case 4: // wrong field types
      return {
        message: pick([
          { id, type: 'complete', documentKey: pick(WEIRD_VALUES), context: randomContext() },
          { id, type: 'complete', documentKey: 'd', context: pick(WEIRD_VALUES) },
          { id, type: 'explain', context: randomContext(), selection: pick(WEIRD_VALUES) },
          { id, type: 'warmup', context: pick(WEIRD_VALUES) },
          { id, type: 'configure', config: pick(WEIRD_VALUES) },
        ]),
        answerId: id,
      };
    case 5: // hostile numbers in well-formed requests
      return {
        message: {
          id,
          type: 'complete',
          documentKey: `doc${int(3)}`,
          context: randomContext(),
          [pick(['budget', 'maxNewTokens', 'policy', 'multiline', 'sampling'])]: pick([
            ...WEIRD_VALUES, -5, 0, 1e9, 2 ** 31, 0.5, 'dense', 'window', 'tokenbutler',
            { temperature: pick([NaN, -1, Infinity, 1e-30, 2]), topP: pick([NaN, -1, 0, 2, 0.5, undefined]), seed: pick([NaN, 'x', -1, 2 ** 60]) },
          ]),
        },
        answerId: id,
      };
    case 6: // explain with a hostile selection
      return { message: { id, type: 'explain', context: randomContext(), selection: pick([randomString(), 'x'.repeat(1 << 20), '']) }, answerId: id };
    case 7: // cancel: random targets, never answered
      return { message: { id, type: 'cancel', target: pick([id - 1, id - int(20), -1, 1e12, 0]) } };
    case 8: // cancel with a bad target: an error is owed
      return { message: { id, type: 'cancel', target: pick(['1', null, NaN, {}]) }, answerId: id };
    case 9:
      return { message: { id, type: 'warmup', context: randomContext() }, answerId: id };
    default: // plausible completion (exercises supersession of the same document)
      return { message: { id, type: 'complete', documentKey: `doc${int(3)}`, context: randomContext(), maxNewTokens: 1 + int(4) }, answerId: id };
  }
}

function randomConfigure(): Sent {
  const id = nextId++;
  const hostile = pick<Record<string, unknown>>([
    { modelDir: pick(['', '/nonexistent', '/', '\u0000', modelDir + '/../..']) },
    { modelDir, executionProvider: pick(['banana', 42, 'cuda', 'webgpu', null]) },
    { modelDir, maxContextTokens: pick([0, -1, 1e9, NaN, 'x', 1.5, 2 ** 40]) },
    { modelDir, budget: pick([0, -1, 1e12, NaN, 'x']) },
    { modelDir, maxNewTokens: pick([0, -1, 1e9, 'x']) },
    { modelDir, policy: pick(['banana', 7]) },
  ]);
  return { message: { id, type: 'configure', config: { ...realConfig({ maxContextTokens: 1024, maxNewTokens: 4 }), ...hostile } }, answerId: id };
}

class ChildUnderTest {
  readonly child: ChildProcess;
  readonly answers = new Map<number, Response[]>();
  anonymousErrors = 0;
  exited: number | null | undefined;
  stderr = '';
  private waiters: (() => void)[] = [];

  constructor() {
    this.child = fork(childPath, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.child.on('exit', (code) => {
      this.exited = code;
      this.wake();
    });
    this.child.on('message', (m: Response) => {
      if (m.type === 'event') return;
      if (m.id === -1) this.anonymousErrors++;
      else this.answers.set(m.id, [...(this.answers.get(m.id) ?? []), m]);
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(message: unknown): void {
    this.child.send(message as object);
  }

  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (this.exited !== undefined) throw new Error(`engine child exited (${this.exited}) while waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 1000));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  async request(message: { id: number } & Record<string, unknown>, ms: number): Promise<Response> {
    this.send(message);
    await this.until(() => this.answers.has(message.id), ms, `an answer to ${message.type} ${message.id}`);
    return this.answers.get(message.id)![0];
  }
}

describe(`engine child protocol fuzz (seed ${SEED})`, () => {
  it('answers every malformed or random message with an error or a result, never hangs, never dies', async () => {
    const t0 = Date.now();
    const c = new ChildUnderTest();
    try {
      const configured = await c.request({ id: 1, type: 'configure', config: realConfig({ maxContextTokens: 1024, maxNewTokens: 4 }) }, 120_000);
      expect(configured.type).toBe('result');

      const sent: Sent[] = [];
      for (let i = 0; i < 400; i++) sent.push(randomMessage());
      for (let i = 0; i < 40; i++) sent.push(randomConfigure());
      for (const s of sent) c.send(s.message);
      const owed = sent.filter((s) => s.answerId !== undefined).map((s) => s.answerId!);
      const anonymous = sent.filter((s) => s.anonymous).length;
      await c
        .until(() => owed.every((id) => c.answers.has(id)) && c.anonymousErrors >= anonymous, 240_000, 'answers to every fuzz message')
        .catch((e: Error) => {
          const missing = sent.filter((s) => s.answerId !== undefined && !c.answers.has(s.answerId));
          const describe = (m: unknown) => JSON.stringify(m, (_k, v) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : typeof v === 'bigint' ? `${v}n` : v)).slice(0, 300);
          throw new Error(`${e.message}; ${missing.length} unanswered, e.g. ${missing.slice(0, 3).map((s) => describe(s.message)).join(' | ')}; anonymous ${c.anonymousErrors}/${anonymous}`);
        });

      for (const id of owed) {
        const a = c.answers.get(id)!;
        expect(a, `request ${id}: one answer`).toHaveLength(1);
        if (a[0].type === 'error') expect(a[0].message.length, `request ${id}: a short error message`).toBeLessThan(2000);
      }
      expect(c.anonymousErrors).toBe(anonymous);
      const kinds = owed.map((id) => c.answers.get(id)![0].type);
      console.log(`[fuzz] ${sent.length} messages in ${Date.now() - t0} ms: ${kinds.filter((k) => k === 'result').length} results, ${kinds.filter((k) => k === 'error').length} errors, ${anonymous} anonymous errors`);

      // Still a working engine: a valid configuration and completion go through.
      const again = await c.request({ id: 2, type: 'configure', config: realConfig({ maxContextTokens: 1024, maxNewTokens: 4 }) }, 120_000);
      expect(again).toMatchObject({ type: 'result' });
      const done = await c.request({ id: 3, type: 'complete', documentKey: 'final', context: { files: [], current: { file: 'a.ts', prefix: 'const a = ', suffix: '' } } }, 60_000);
      expect(done).toMatchObject({ type: 'result', result: { completion: expect.any(String) } });
      expect(c.exited).toBeUndefined();
    } finally {
      c.child.kill('SIGKILL');
    }
  }, 400_000);
});
