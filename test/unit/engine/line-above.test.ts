// A suggestion on a blank line that repeats the line above is decoded again without its first
// token, with the real model: greedy decoding after `const data = fs.readFileSync(...);` + Enter
// suggests that same line again.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, type Hooks } from '../../../src/engine/engine';
import { LINE_ABOVE } from '../../../src/engine/decode/stop-rules';

const hooks: Hooks = { emit: () => undefined, cancelled: () => false };
const above = 'const data = fs.readFileSync(path, "utf8");';
const context = { files: [], current: { file: 'src/load.js', prefix: `function load(path) {\n  ${above}\n  `, suffix: '\n}\n' } };

describe('the line-above rule with the real model', () => {
  const retries = LINE_ABOVE.retries;
  afterAll(() => {
    LINE_ABOVE.retries = retries;
  });

  it('without the rule the suggestion is the line above; with it, another line', async () => {
    const engine = new Engine();
    await engine.configure({ modelDir: path.resolve(__dirname, '../../../models/default'), executionProvider: 'cpu', policy: 'dense', budget: 64, maxContextTokens: 4096, maxNewTokens: 24, monitors: false }, hooks);
    LINE_ABOVE.retries = 0;
    const plain = await engine.complete({ context, multiline: false }, hooks);
    expect(plain.completion.trim()).toBe(above);
    LINE_ABOVE.retries = retries;
    const ruled = await engine.complete({ context, multiline: false }, hooks);
    expect(ruled.completion.trim()).not.toBe('');
    expect(ruled.completion.trim()).not.toBe(above);
  }, 60_000);
});
