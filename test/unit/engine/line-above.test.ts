// Suggestions with a useless line are decoded again, with the real model: after
// `const data = fs.readFileSync(...);` + Enter greedy decoding suggests that same line again;
// after `this.` below `this.size = size;` it completes the same line; in a method it assigns a
// member to itself.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, type Hooks } from '../../../src/engine/engine';
import { USELESS_LINE } from '../../../src/engine/decode/stop-rules';

const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const above = 'const data = fs.readFileSync(path, "utf8");';
const context = { files: [], current: { file: 'src/load.js', prefix: `function load(path) {\n  ${above}\n  `, suffix: '\n}\n' } };

describe('the line-above rule with the real model', () => {
  const retries = USELESS_LINE.retries;
  afterAll(() => {
    USELESS_LINE.retries = retries;
  });

  it('without the rule the suggestion is the line above; with it, another line', async () => {
    const engine = new Engine();
    await engine.configure({ modelDir: path.resolve(__dirname, '../../../models/default'), executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 4096, maxNewTokens: 24, monitors: false }, hooks);
    USELESS_LINE.retries = 0;
    const plain = await engine.complete({ context, multiline: false }, hooks);
    expect(plain.completion.trim()).toBe(above);
    USELESS_LINE.retries = retries;
    const ruled = await engine.complete({ context, multiline: false }, hooks);
    expect(ruled.completion.trim()).not.toBe('');
    expect(ruled.completion.trim()).not.toBe(above);
  }, 60_000);

  it('a completed line that copies the line above, and a self-assignment, are decoded again', async () => {
    const engine = new Engine();
    await engine.configure({ modelDir: path.resolve(__dirname, '../../../models/default'), executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 4096, maxNewTokens: 24, monitors: false }, hooks);
    const ask = async (prefix: string) => (await engine.complete({ context: { files: [], current: { file: 'src/a.js', prefix, suffix: '\n' } }, multiline: false }, hooks)).completion.trim();
    const copy = 'class Cache {\n  constructor(size) {\n    this.size = size;\n    this.';
    const self = 'var Poly = Path.extend({\n\tsetLatLngs: function (latlngs) {\n\t\tthis._setLatLngs(latlngs);\n\t\treturn this.redraw();\n\t},\n\t_defaultShape: function () {\n\t\tthis.';
    USELESS_LINE.retries = 0;
    const plainCopy = await ask(copy);
    expect(await ask(self)).toBe('_setLatLngs = this._setLatLngs;');
    USELESS_LINE.retries = retries;
    // the model's choice between `size` and another member is close (it flips with the cache's
    // layout); with the rule it is never the line above
    const again = await ask(copy);
    expect(again).not.toBe('size = size;');
    expect(again === plainCopy || plainCopy === 'size = size;').toBe(true);
    // the name it assigns stays; its value is chosen again
    const value = await ask(self);
    expect(value.startsWith('_setLatLngs = ')).toBe(true);
    expect(value).not.toBe('_setLatLngs = this._setLatLngs;');
  }, 60_000);
});
