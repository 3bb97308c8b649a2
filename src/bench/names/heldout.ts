// The held-out packages the bench runs on (training/dataset/build.py HELD_OUT_FAMILIES: the model
// never trained on them), their split into a tuning half and a report half, and the workspace
// each one becomes: its target source files plus its .d.ts files, nothing else.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';

export type Half = 'tuning' | 'report' | 'fit';

export interface HeldOutPackage {
  family: string;
  name: string; // npm name
  half: Half;
  /** target files: paths (or folders, ending in '/') relative to the package root */
  include: string[];
  exclude?: string[];
}

// The fitting set: packages of the training corpus (not held out), only for fitting the rank
// scorers of src/engine/monitors/rank.ts, whose features read the text and the language service,
// never the model, so having trained on them biases nothing; the fitted scorers are judged on the
// tuning half. bench/names-fetch.sh lists the same names (`fit`).
const FIT: [string, string[]][] = [
  ['@tanstack/query-core', ['src/']],
  ['@reduxjs/toolkit', ['src/']],
  ['rxjs', ['src/internal/']],
  ['mobx', ['src/']],
  ['yjs', ['src/']],
  ['vscode-languageserver-protocol', ['lib/common/']],
  ['@opentelemetry/sdk-trace-base', ['build/src/']],
  ['three', ['src/math/', 'src/core/', 'src/objects/', 'src/cameras/', 'src/animation/']],
  ['ol', ['geom/', 'source/', 'layer/']],
  ['axios', ['lib/']],
  ['express', ['lib/']],
  ['fastify', ['lib/', 'fastify.js']],
  ['undici', ['lib/']],
  ['ws', ['lib/']],
  ['winston', ['lib/']],
  ['commander', ['lib/']],
  ['markdown-it', ['dist/markdown-it.mjs']],
  ['knex', ['lib/']],
  ['js-yaml', ['dist/js-yaml.cjs.js']],
  ['moment', ['src/lib/']],
  ['sinon', ['lib/']],
  ['mocha', ['lib/']],
  ['pg', ['lib/']],
  ['mongoose', ['lib/']],
  ['eslint', ['lib/']],
  ['espree', ['lib/', 'espree.js']],
  ['postcss', ['lib/']],
  ['terser', ['lib/']],
  ['webpack', ['lib/']],
  ['mysql2', ['lib/']],
  ['jszip', ['lib/']],
  ['protobufjs', ['src/']],
  ['nunjucks', ['src/']],
  ['svelte', ['src/']],
  ['preact', ['src/']],
  ['joi', ['lib/']],
  ['handlebars', ['lib/']],
  ['@babel/traverse', ['lib/']],
  ['@grpc/grpc-js', ['src/']],
  ['ioredis', ['built/']],
  ['sequelize', ['lib/']],
  ['socket.io', ['dist/']],
  ['yaml', ['dist/']],
];

// The split is by family, fixed here, and never changes with results: decoding rules may be
// tuned on the tuning half only; bench/names.md reports the report half. Each half gets two
// families with TypeScript sources (report: zod, prosemirror; tuning: immer, @trpc) and plain
// JavaScript of several styles (report: d3 UMD bundles, luxon classes, semver's small CommonJS
// modules, koa, hono's compiled ESM; tuning: leaflet, pino, marked, superstruct). The report half
// takes the larger families so its positions come from more files. mitt is not listed: it ships
// only minified builds, nothing anyone types.
export const PACKAGES: HeldOutPackage[] = [
  { family: 'zod', name: 'zod', half: 'report', include: ['src/v4/core/', 'src/v4/classic/'] },
  ...['prosemirror-model', 'prosemirror-state', 'prosemirror-transform', 'prosemirror-view'].map(
    (name): HeldOutPackage => ({ family: 'prosemirror', name, half: 'report', include: ['src/'] }),
  ),
  ...['array', 'color', 'force', 'format', 'geo', 'hierarchy', 'interpolate', 'scale', 'selection', 'shape', 'time'].map(
    (s): HeldOutPackage => ({ family: 'd3', name: `d3-${s}`, half: 'report', include: [`dist/d3-${s}.js`] }),
  ),
  { family: 'luxon', name: 'luxon', half: 'report', include: ['src/'] },
  { family: 'semver', name: 'semver', half: 'report', include: ['classes/', 'functions/', 'ranges/', 'internal/', 'index.js'] },
  { family: 'koa', name: 'koa', half: 'report', include: ['lib/'] },
  // dist/cjs/ is the same code again as CommonJS: left out so no file's twin sits in the workspace
  { family: 'hono', name: 'hono', half: 'report', include: ['dist/'], exclude: ['dist/cjs/'] },
  { family: 'immer', name: 'immer', half: 'tuning', include: ['src/'] },
  { family: '@trpc', name: '@trpc/client', half: 'tuning', include: ['src/'] },
  { family: '@trpc', name: '@trpc/server', half: 'tuning', include: ['src/'] },
  { family: 'leaflet', name: 'leaflet', half: 'tuning', include: ['src/'] },
  { family: 'pino', name: 'pino', half: 'tuning', include: ['lib/', 'pino.js', 'browser.js'] },
  { family: 'marked', name: 'marked', half: 'tuning', include: ['lib/marked.esm.js'] },
  { family: 'superstruct', name: 'superstruct', half: 'tuning', include: ['dist/index.mjs'] },
  ...FIT.map(([name, include]): HeldOutPackage => ({ family: name, name, half: 'fit', include })),
];

const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const DECLARATION = /\.d\.(ts|mts|cts)$/;
const TEST_PATH = /(^|\/)(test|tests|__tests__|__mocks__)\/|\.(test|spec)\.[cm]?[jt]s$/;
/** Bundled or minified text is no one's typing: files with a longer line are not targets. */
export const MAX_TARGET_LINE = 400;

/** The tarball's stem as `npm pack` names it: @trpc/server@11.25.2 -> trpc-server-11.25.2. */
export function packStem(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}`;
}

/** name -> version from training/dataset/packages.pinned.txt (lines "name@version<TAB>integrity"). */
export function pinnedVersions(pinnedFile: string): Map<string, { version: string; integrity: string }> {
  const out = new Map<string, { version: string; integrity: string }>();
  for (const line of readFileSync(pinnedFile, 'utf8').split('\n')) {
    const m = /^(@?[^@\s]+)@(\S+)\t(\S+)/.exec(line.trim());
    if (m) out.set(m[1], { version: m[2], integrity: m[3] });
  }
  return out;
}

function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...walk(root, r));
    } else if (e.isFile()) out.push(r);
  }
  return out;
}

export function isTargetPath(pkg: HeldOutPackage, rel: string): boolean {
  if (!SOURCE.test(rel) || DECLARATION.test(rel) || /\.min\./.test(rel) || TEST_PATH.test(rel)) return false;
  const under = (p: string) => (p.endsWith('/') ? rel.startsWith(p) : rel === p);
  return pkg.include.some(under) && !(pkg.exclude ?? []).some(under);
}

export function readableSource(text: string): boolean {
  return text.split('\n').every((l) => l.length <= MAX_TARGET_LINE);
}

/** Copies the package's target files and its .d.ts files (types as context) from the extracted
 *  tarball into `wsDir`, keeping their paths; returns the target files (relative paths). */
export function prepareWorkspace(pkg: HeldOutPackage, pkgDir: string, wsDir: string): string[] {
  const targets: string[] = [];
  for (const rel of walk(pkgDir).sort()) {
    const target = isTargetPath(pkg, rel);
    if (!target && !(DECLARATION.test(rel) && !TEST_PATH.test(rel))) continue;
    const src = path.join(pkgDir, rel);
    if (target && !readableSource(readFileSync(src, 'utf8'))) continue;
    const dst = path.join(wsDir, rel);
    if (!existsSync(dst) || statSync(dst).size !== statSync(src).size) {
      mkdirSync(path.dirname(dst), { recursive: true });
      copyFileSync(src, dst);
    }
    if (target) targets.push(rel);
  }
  return targets;
}
