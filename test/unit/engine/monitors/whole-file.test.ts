// The language service reads the whole current file, not only the part placed in the model's
// context: past the prefix cap, `this.` still completes to a member of the enclosing class, whose
// header the cap cut off (ContextPayload current.head), and never to a global. It also reads the
// related files the token budget left out (ContextPayload serviceFiles): a member of a type
// declared in an imported file that did not fit.
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleContext } from '../../../../src/context';
import { Engine, Hooks } from '../../../../src/engine/engine';
import type { ContextPayload } from '../../../../src/shared/protocol';

const modelDir = path.resolve(__dirname, '../../../../models/default');
const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const methods = Array.from({ length: 120 }, (_, i) => `  step${i}(x: number): number {\n    return x * ${i} + ${i % 7};\n  }\n`).join('');
const prefix = `export class LruShelf {\n  private shelfItems = new Map<string, number>();\n  private shelfLimit = 10;\n${methods}  lookup(key: string) {\n    return this.`;
const suffix = `\n  }\n}\n`;

let engine: Engine;
let payload: ContextPayload;
beforeAll(async () => {
  const ws = mkdtempSync(path.join(tmpdir(), 'tb-whole-'));
  writeFileSync(path.join(ws, 'shelf.ts'), prefix + suffix);
  const r = await assembleContext({ workspaceRoot: ws, currentFile: 'shelf.ts', prefix, suffix, maxContextTokens: 512 });
  payload = r.payload;
  engine = new Engine();
  await engine.configure({ modelDir, executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 512, maxNewTokens: 6 }, hooks);
  await engine.prepareMonitors(payload, 15_000);
}, 60_000);

describe('the language service reads the whole current file', () => {
  it('the payload carries what the prefix cap cut off, and the model context does not', () => {
    expect(payload.current.head).toBeDefined();
    expect(payload.current.head! + payload.current.prefix).toBe(prefix);
    expect(payload.current.prefix).not.toContain('class LruShelf');
  });

  it('`this.` past the cap is held to the members of the class whose header was cut off', async () => {
    const r = await engine.complete({ context: payload, monitors: true, multiline: false }, hooks);
    const ts = r.monitor!.events.find((e) => e.at === 0 && e.source === 'typescript');
    expect(ts).toBeDefined();
    expect(ts!.candidates).toBe(123); // the class's members (120 steps, lookup, two fields), not the global scope
    expect(ts!.top!.every((n) => /^(shelfItems|shelfLimit|step\d+|lookup)$/.test(n))).toBe(true);
    expect(r.completion).toMatch(/^(shelfItems|shelfLimit|step\d+|lookup)\b/);
  }, 60_000);

  it('without the cut-off head the service sees no class there (what the head fixes)', async () => {
    const bare: ContextPayload = { ...payload, current: { ...payload.current, head: undefined } };
    const r = await engine.complete({ context: bare, monitors: true, multiline: false }, hooks);
    const ts = r.monitor!.events.find((e) => e.at === 0 && e.source === 'typescript');
    expect(ts?.candidates).not.toBe(123);
    expect((ts?.top ?? []).some((n) => /^(shelfItems|shelfLimit|step\d+|lookup)$/.test(n))).toBe(false);
  }, 60_000);
});

describe('the language service reads the related files the budget left out', () => {
  const fields = Array.from({ length: 90 }, (_, i) => `  /** field ${i} of the shelf record, documented at length so the file is long */\n  shelfField${i}: number;\n`).join('');
  const usePrefix = "import type { ShelfRecord } from './shelf-record';\n\nexport function total(rec: ShelfRecord): number {\n  return rec.";
  let ctx: ContextPayload;
  beforeAll(async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'tb-service-'));
    writeFileSync(path.join(ws, 'shelf-record.ts'), `export interface ShelfRecord {\n${fields}}\n`);
    writeFileSync(path.join(ws, 'use.ts'), usePrefix + ';\n}\n');
    ctx = (await assembleContext({ workspaceRoot: ws, currentFile: 'use.ts', prefix: usePrefix, suffix: ';\n}\n', maxContextTokens: 512 })).payload;
    await engine.prepareMonitors(ctx, 15_000);
  }, 60_000);

  it('the imported file that did not fit goes to the service, not to the model', () => {
    expect(ctx.files.map((f) => f.file)).not.toContain('shelf-record.ts');
    expect(ctx.serviceFiles?.map((f) => f.file)).toEqual(['shelf-record.ts']);
  });

  it('`rec.` is held to the members declared there, and without it the service offers nothing', async () => {
    const r = await engine.complete({ context: ctx, monitors: true, multiline: false }, hooks);
    const ts = r.monitor!.events.find((e) => e.at === 0 && e.source === 'typescript');
    expect(ts?.candidates).toBe(90);
    expect(r.completion).toMatch(/^shelfField\d+\b/);
    const bare = await engine.complete({ context: { ...ctx, serviceFiles: undefined }, monitors: true, multiline: false }, hooks);
    expect(bare.monitor!.events.find((e) => e.at === 0 && e.source === 'typescript')).toBeUndefined();
    expect(bare.completion).not.toMatch(/^shelfField\d+\b/);
  }, 60_000);
});
