// Playwright UI scenario against the real VS Code workbench (code-server) with the packaged
// extension installed: the engine gets ready, typing shows ghost text, Tab accepts it, ghost text
// follows the suggest widget's selected entry, and the palette runs our commands. Run through test/e2e/ui-run.mjs (which starts everything).
// Selectors and pitfalls: /work/shared/research/vscode-e2e.md §3.
import fs from 'node:fs';
import path from 'node:path';
import cs from '../e2e/code-server.js';

const norm = (s) => (s || '').replace(/\u00a0/g, ' '); // Monaco renders spaces as U+00A0
const TYPED = 'export function totalPerimeter(items: Shape[]): number {';

/**
 * @param {{ page: import('playwright-core').Page, baseUrl: string, folder: string,
 *           shotDir: string, check: (name: string, ok: boolean, detail?: string) => void,
 *           log: (...a: unknown[]) => void }} o
 */
export async function run({ page, baseUrl, folder, shotDir, check, log }) {
  fs.mkdirSync(shotDir, { recursive: true });
  const shot = async (name) => {
    const file = path.join(shotDir, name);
    await page.screenshot({ path: file });
    log('screenshot', file);
  };

  // ---- 1. workbench, extension activated (status bar item), engine ready
  await page.goto(`${baseUrl}/?folder=${encodeURIComponent(folder)}`);
  await page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: 120_000 });
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'src' }).first().waitFor({ timeout: 120_000 });
  log('workbench ready');
  const status = page.locator('.part.statusbar .statusbar-item', { hasText: 'TokenButler' }).first();
  const activated = await status.waitFor({ timeout: 60_000 }).then(() => true, () => false);
  check('extension activated (status bar item shown)', activated);
  const engineSettled = await cs.engineStatus(page);
  check('engine reports ready in the status bar', /ready/.test(engineSettled || ''), `status: ${engineSettled}`);

  // ---- 2. open src/main.ts with Quick Open
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill('main.ts');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'main.ts' }).first().waitFor();
  await page.keyboard.press('Enter');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-line', { hasText: 'totalArea' }).first().waitFor({ timeout: 30_000 });
  log('main.ts open');

  // ---- 3. type, wait for ghost text, Tab accepts it
  await editor.locator('.view-line').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await page.keyboard.type(TYPED, { delay: 20 }); // brackets auto-close and are typed over: same text
  await page.keyboard.press('Enter'); // inside the auto-closed { }: an indented empty line
  await page.keyboard.type('return ', { delay: 20 });
  const ghostSel = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text';
  // A model with random (or weak) weights may produce a suggestion that post-processing drops
  // (whitespace only): then type a little more, which changes the prefix, and wait again.
  let tTyped = Date.now();
  let ghostShown = false;
  let typed = 'return ';
  for (const more of ['', 'items', '.', 'length', ' *', ' 2']) {
    if (more) {
      await page.keyboard.type(more, { delay: 20 });
      typed += more;
      tTyped = Date.now();
    }
    ghostShown = await page.locator(ghostSel).first().waitFor({ timeout: more ? 15_000 : 45_000 }).then(() => true, () => false);
    if (ghostShown && norm((await page.locator(ghostSel).allTextContents()).join('')).trim()) break;
    log(`no ghost text after ${JSON.stringify(typed)}`);
  }
  const ghostText = norm((await page.locator(ghostSel).allTextContents()).join('\n'));
  const sameLine = norm((await page.locator('.monaco-editor .ghost-text-decoration').allTextContents()).join(''));
  check('ghost text appears after typing', ghostShown && ghostText.trim().length > 0, `${JSON.stringify(ghostText.slice(0, 80))} after ${Date.now() - tTyped} ms`);
  await shot('ghost-text.png');

  if (ghostShown) {
    await page.keyboard.press('Tab');
    const want = norm(`${typed}${sameLine}`).trimEnd();
    // The line's own text: the next suggestion (prefetched while this one was shown) may already be
    // drawn after it as ghost text, which is not part of the document.
    const accepted = await page
      .waitForFunction((w) => [...document.querySelectorAll('.editor-instance .monaco-editor .view-line')].some((l) => {
        const line = l.cloneNode(true);
        for (const ghost of line.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview')) ghost.remove();
        return line.textContent.replace(/\u00a0/g, ' ').trimEnd().endsWith(w);
      }), want, { timeout: 10_000 })
      .then(() => true, () => false);
    const next = norm((await page.locator('.monaco-editor .ghost-text-decoration').allTextContents()).join(''));
    if (next) log(`next suggestion shown after the accept: ${JSON.stringify(next)}`);
    check('Tab inserts the suggestion into the document', accepted, `expected a line ending with ${JSON.stringify(want)}; ghost text after it: ${JSON.stringify(next)}`);
  } else {
    check('Tab inserts the suggestion into the document', false, 'no ghost text to accept');
  }
  await shot('after-accept.png');

  // ---- 3b. the suggest widget open (Ctrl+Space; VS Code's default opens it after `.` too): our
  // ghost text shows the rest of the line after the selected entry, or VS Code would drop it
  await page.keyboard.press('Escape');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('const first = shapes[0].', { delay: 20 });
  await page.keyboard.press('Control+Space');
  const focusedEntry = page.locator('.editor-widget.suggest-widget .monaco-list-row.focused .label-name');
  const widgetShown = await focusedEntry.first().waitFor({ timeout: 30_000 }).then(() => true, () => false);
  let entryGhost = { entry: '', ghost: '' };
  for (let attempt = 0; widgetShown && attempt < 4; attempt++) {
    if (attempt) await page.keyboard.press('ArrowDown'); // an entry after which nothing was suggested: the next one
    const entry = norm(await focusedEntry.first().textContent()).trim();
    // the entry's part and ours are drawn as separate decorations (the suggest preview's and ghost text)
    const entrySel = '.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview';
    const shown = await page.locator(entrySel).first().waitFor({ timeout: 20_000 }).then(() => true, () => false);
    const ghost = shown ? norm((await page.locator(entrySel).allTextContents()).join('')) : '';
    entryGhost = { entry, ghost };
    if (ghost.trim()) break;
    log(`suggest widget: no ghost text after the entry ${JSON.stringify(entry)}`);
  }
  await shot('suggest-widget.png');
  check(
    'with the suggest widget open, ghost text continues its selected entry',
    widgetShown && entryGhost.ghost.trim().length > entryGhost.entry.length && entryGhost.ghost.startsWith(entryGhost.entry),
    `widget ${widgetShown ? 'shown' : 'not shown'}; entry ${JSON.stringify(entryGhost.entry)}, ghost text ${JSON.stringify(entryGhost.ghost.slice(0, 80))}`,
  );

  // ---- 4. command palette: TokenButler: Show Output opens the log
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill('>TokenButler: Show Output');
  await page
    .waitForFunction(() => {
      const f = document.querySelector('.quick-input-list .monaco-list-row.focused');
      return f && f.textContent.includes('TokenButler: Show Output');
    }, null, { timeout: 15_000 })
    .catch(() => log('palette: focused row never settled'));
  await page.keyboard.press('Enter');
  const outputShown = await page
    .locator('.part.panel .monaco-editor .view-line', { hasText: 'engine' })
    .first()
    .waitFor({ timeout: 15_000 })
    .then(() => true, () => false);
  check('"TokenButler: Show Output" opens the TokenButler log', outputShown);
  await shot('output.png');
}
