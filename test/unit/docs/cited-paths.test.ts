// Every repository path that the docs and the code comments cite exists: README.md, the markdown
// of docs/, bench/ and training/, and the comments of src/ and test/ sources. A cited path starts with src/, test/, docs/, bench/ or
// training/; in the docs, a path in backticks with a folder and a file extension counts too
// (`engine/child.ts`: src/ may be left out). Each is looked up from the repository root, from src/,
// from the citing file's own folder (relative links in docs/), and from the sample workspace
// test/fixtures/ws (the CLI examples). A bare markdown name (`engine.md`) is looked up in docs/
// and bench/ as well.
// Globs and placeholders (`*`, `{a,b}`, `<kind>`, `$VAR`) are not paths; generated or ignored
// folders (training/work/, test-results/) are not in a fresh clone and are skipped.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');
const CITED = /(?<![\w./-])(?:src|test|docs|bench|training)\/(?:[\w./-]*[\w-]\/?)?/g;
const BACKTICKED = /(?<=`)[\w.-]+(?:\/[\w.-]+)*\/[\w-]+\.(?:ts|mts|js|mjs|cjs|md|py|json|sh|onnx)(?=`)/g;
const BARE_MARKDOWN = /(?<![\w./-])[\w-]+\.md\b/g;
const NOT_A_PATH = /[*{}<>$]/;
const GENERATED = /^(?:training\/work\/|test-results\/)/;
const SAMPLE_WORKSPACE = path.join(root, 'test/fixtures/ws');

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') walk(p, keep, out);
    } else if (keep(p)) out.push(p);
  }
  return out;
}

/** The comments of a TypeScript or JavaScript source, found by TypeScript's own scanner. */
function commentsOf(file: string): { text: string; at: number }[] {
  const text = fs.readFileSync(file, 'utf8');
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  const comments: { text: string; at: number }[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
      comments.push({ text: scanner.getTokenText(), at: scanner.getTokenStart() });
    }
  }
  return comments;
}

/** The paths a text cites, with their offsets in it. */
export function citedPaths(text: string, backticked: boolean): { cited: string; index: number }[] {
  const found: { cited: string; index: number }[] = [];
  for (const m of text.matchAll(CITED)) {
    const cited = m[0].replace(/\.+$/, ''); // a sentence's full stop is not part of the path
    const next = text[m.index + m[0].length] ?? '';
    if (NOT_A_PATH.test(next) || GENERATED.test(cited)) continue; // `src/*.ts`, `test-results/<kind>.log`
    found.push({ cited, index: m.index });
  }
  for (const m of text.matchAll(BARE_MARKDOWN)) found.push({ cited: m[0], index: m.index });
  if (backticked) {
    for (const m of text.matchAll(BACKTICKED)) {
      if (!found.some((f) => f.index === m.index) && !GENERATED.test(m[0])) found.push({ cited: m[0], index: m.index });
    }
  }
  return found;
}

/** "file:line: path" for each cited path that does not exist. */
function missingCitations(file: string, texts: { text: string; at: number }[], backticked: boolean): string[] {
  const whole = fs.readFileSync(file, 'utf8');
  const bases = [root, path.join(root, 'src'), path.dirname(file), SAMPLE_WORKSPACE, path.join(root, 'docs'), path.join(root, 'bench')];
  const missing: string[] = [];
  for (const { text, at } of texts) {
    for (const { cited, index } of citedPaths(text, backticked)) {
      if (bases.some((base) => fs.existsSync(path.join(base, cited)))) continue;
      const line = whole.slice(0, at + index).split('\n').length;
      missing.push(`${path.relative(root, file)}:${line}: ${cited}`);
    }
  }
  return missing;
}

const markdown = (dir: string) => walk(path.join(root, dir), (f) => f.endsWith('.md') && !f.includes(`${path.sep}work${path.sep}`));
// bench/samples.md is generated: greedy samples whose headers name files of the held-out packages
const docs = [path.join(root, 'README.md'), ...markdown('docs'), ...markdown('bench'), ...markdown('training')].filter(
  (f) => path.relative(root, f) !== 'bench/samples.md',
);
const sources = ['src', 'test'].flatMap((d) => walk(path.join(root, d), (f) => /\.(?:ts|mts|js|mjs|cjs)$/.test(f)));

describe('cited paths exist', () => {
  it('finds the paths a text cites, and leaves globs, placeholders and generated folders out', () => {
    const text = 'see src/engine/child.ts. Also `engine/step.ts`, src/*.ts, test-results/<kind>.log, training/work/ckpt6, design.md and docs/.';
    expect(citedPaths(text, true).map((c) => c.cited)).toEqual(['src/engine/child.ts', 'docs/', 'design.md', 'engine/step.ts']);
    expect(citedPaths(text, false).map((c) => c.cited)).toEqual(['src/engine/child.ts', 'docs/', 'design.md']);
  });
  it('in README.md and the markdown of docs/, bench/ and training/', () => {
    expect(docs.flatMap((f) => missingCitations(f, [{ text: fs.readFileSync(f, 'utf8'), at: 0 }], true))).toEqual([]);
  });
  it('in the comments of src/ and test/', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(sources.flatMap((f) => missingCitations(f, commentsOf(f), false))).toEqual([]);
  });
});
