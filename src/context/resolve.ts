// Resolve a relative specifier the way TypeScript/bundlers do without a tsconfig:
// exact file, .js written for a .ts source (ESM style), added extensions, then index files.
import * as path from 'node:path';
import { dirOf, normalizeRel } from './paths';

export const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.d.ts', '.js', '.jsx', '.mts', '.cts', '.mjs', '.cjs'];

// `import './x.js'` in TS source means x.ts (and likewise for the other module flavours).
const JS_TO_TS: Record<string, string[]> = {
  '.js': ['.ts', '.tsx', '.d.ts'],
  '.jsx': ['.tsx'],
  '.mjs': ['.mts', '.d.mts'],
  '.cjs': ['.cts', '.d.cts'],
};

export type Exists = (rel: string) => Promise<boolean>;

/** Candidate paths, in the order they are tried. */
export function resolutionCandidates(fromFile: string, spec: string): string[] {
  const raw = path.posix.join(dirOf(fromFile), spec);
  if (raw === '.') return SOURCE_EXTENSIONS.map((e) => `index${e}`); // `import '.'` from a root file
  const joined = normalizeRel(raw);
  if (joined === undefined) return [];
  const out: string[] = [];
  const ext = path.posix.extname(joined);
  if (ext) {
    out.push(joined);
    for (const alt of JS_TO_TS[ext] ?? []) out.push(joined.slice(0, -ext.length) + alt);
  }
  for (const e of SOURCE_EXTENSIONS) out.push(joined + e);
  for (const e of SOURCE_EXTENSIONS) out.push(`${joined}/index${e}`);
  return [...new Set(out)];
}

/** The first existing candidate, or undefined (bare/unresolvable specifiers are not errors). */
export async function resolveImport(fromFile: string, spec: string, exists: Exists): Promise<string | undefined> {
  for (const c of resolutionCandidates(fromFile, spec)) if (await exists(c)) return c;
  return undefined;
}
