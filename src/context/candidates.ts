// Which files are wanted as related context, in priority order: the current file's relative
// imports, their imports (one level), open tabs, recently edited files, then the current folder.
// The order only matters for files new to the context; files already placed keep their place.
import { relativeImports } from './imports';
import { baseName, dirOf, normalizeRel } from './paths';
import { resolveImport } from './resolve';
import type { WorkspaceSource } from './source';
import type { Skipped } from './types';

export type CandidateKind = 'import' | 'transitive' | 'open' | 'edited' | 'folder';

export interface Candidate {
  file: string;
  kind: CandidateKind;
}

// Caps keep the work bounded however large the workspace or the tab list is.
export const CANDIDATE_LIMITS: Record<CandidateKind, number> = {
  import: 40,
  transitive: 40,
  open: 30,
  edited: 30,
  folder: 30,
};

export interface CandidateInput {
  root: string;
  current: string;
  currentText: string;
  openFiles: readonly string[];
  recentlyEdited: readonly string[];
}

export async function gatherCandidates(
  input: CandidateInput,
  src: WorkspaceSource,
): Promise<{ candidates: Candidate[]; rejected: Skipped[] }> {
  const seen = new Set<string>([input.current]);
  const candidates: Candidate[] = [];
  const rejected: Skipped[] = [];
  const add = (file: string, kind: CandidateKind, count: { n: number }) => {
    if (seen.has(file) || count.n >= CANDIDATE_LIMITS[kind]) return;
    seen.add(file);
    count.n++;
    candidates.push({ file, kind });
  };

  const nDirect = { n: 0 };
  for (const spec of relativeImports(input.currentText)) {
    const file = await resolveImport(input.current, spec, (r) => src.exists(r));
    if (file) add(file, 'import', nDirect);
  }

  const nTrans = { n: 0 };
  const direct = candidates.map((c) => c.file);
  for (const from of direct) {
    if (nTrans.n >= CANDIDATE_LIMITS.transitive) break;
    const a = await src.admit(from); // an excluded file's imports are not followed
    if (!a.ok) continue;
    for (const spec of relativeImports(a.text)) {
      const file = await resolveImport(from, spec, (r) => src.exists(r));
      if (file) add(file, 'transitive', nTrans);
    }
  }

  for (const [list, kind] of [
    [input.openFiles, 'open'],
    [input.recentlyEdited, 'edited'],
  ] as const) {
    const count = { n: 0 };
    for (const raw of list) {
      const file = normalizeRel(raw, input.root);
      if (file === undefined) {
        if (!rejected.some((r) => r.file === raw)) rejected.push({ file: raw, reason: 'outside-workspace' });
      } else add(file, kind, count);
    }
  }

  const nFolder = { n: 0 };
  const folder = await src.listFolder(dirOf(input.current));
  for (const file of rankFolder(input.current, folder, CANDIDATE_LIMITS.folder + seen.size)) add(file, 'folder', nFolder);

  return { candidates, rejected };
}

/** TS/JS files by extension (the language family of the folder ranking; what the language service reads). */
export const SCRIPT = /\.(ts|tsx|js|jsx|mts|cts|mjs|cjs)$/i;

/** Same-folder files: same stem (foo.ts ↔ foo.test.ts) first, then the same language family, then
 *  by name; the first `limit` of them. A folder may hold 50k files: no full sort (that alone
 *  blocked the extension host for ~50 ms), just the best `limit` kept in order as they come. */
export function rankFolder(current: string, files: string[], limit = Infinity): string[] {
  const stem = stemOf(baseName(current));
  const ext = extOf(current);
  const script = SCRIPT.test(current);
  const rank = (f: string) => (stemOf(baseName(f)) === stem ? 0 : (script ? SCRIPT.test(f) : extOf(f) === ext) ? 1 : 2);
  const best: { f: string; r: number }[] = [];
  for (const f of files) {
    if (f === current) continue;
    const r = rank(f);
    const last = best[best.length - 1];
    if (best.length >= limit && (r > last.r || (r === last.r && f >= last.f))) continue;
    let i = best.length;
    while (i > 0 && (r < best[i - 1].r || (r === best[i - 1].r && f < best[i - 1].f))) i--;
    best.splice(i, 0, { f, r });
    if (best.length > limit) best.pop();
  }
  return best.map((x) => x.f);
}

function stemOf(name: string): string {
  const i = name.indexOf('.', 1);
  return i < 0 ? name : name.slice(0, i);
}

function extOf(file: string): string {
  const name = baseName(file);
  const i = name.lastIndexOf('.');
  return i <= 0 ? '' : name.slice(i).toLowerCase();
}
