// Build the context for one completion: related files in append-only order, then the current
// file (prefix/suffix). Reads only candidate paths, their ancestor .gitignore files and the current
// folder's listing, so the cost does not grow with the size of the workspace.
import { capPrefix, capSuffix, defaultEstimateTokens, fileCost } from './budget';
import { SCRIPT, gatherCandidates } from './candidates';
import { MAX_FILE_BYTES, containsPrivateKey, pathSkipReason } from './exclusions';
import { GitignoreMatcher, defaultGitignoreCache, type GitignoreCache } from './gitignore';
import { compileGlobs } from './globs';
import { nodeFs } from './node-fs';
import { stableOrder } from './order';
import { normalizeRel } from './paths';
import { WorkspaceSource } from './source';
import type { AssembleOptions, AssembleResult, Skipped, SkipReason } from './types';
import type { ContextFile } from '../shared/protocol';

export async function assembleContext(
  opts: AssembleOptions,
  gitignoreCache: GitignoreCache = defaultGitignoreCache,
): Promise<AssembleResult> {
  const root = opts.workspaceRoot;
  const estimate = opts.estimateTokens ?? defaultEstimateTokens;
  const fs = opts.fs ?? nodeFs;
  const trusted = opts.trusted !== false;
  const current = normalizeRel(opts.currentFile, root) ?? opts.currentFile.replace(/\\/g, '/');
  const skipped: Skipped[] = [];

  // The current file: its secrets are never sent, even though the user is editing it.
  const currentSkipped = currentFileSkipReason(current, opts.prefix, opts.suffix);
  const suffix = currentSkipped ? '' : capSuffix(opts.suffix);
  const maxPrefixTokens = opts.maxPrefixTokens ?? Math.floor(opts.maxContextTokens / 2);
  const cappedPrefix = currentSkipped ? { text: '', start: opts.prefix.length } : capPrefix(opts.prefix, maxPrefixTokens, estimate);
  const reserved = estimate(`${current}\n`) + estimate(cappedPrefix.text) + estimate(suffix);
  const budget = Math.max(0, opts.maxContextTokens - reserved);

  const docs = new Map<string, string>();
  for (const d of opts.openDocuments ?? []) {
    const rel = normalizeRel(d.file, root);
    if (rel !== undefined && !docs.has(rel)) docs.set(rel, d.text);
  }
  const src = new WorkspaceSource({
    root,
    fs,
    trusted,
    docs,
    isExcluded: compileGlobs(opts.excludeGlobs),
    gitignore: new GitignoreMatcher(root, fs, gitignoreCache),
  });

  const { candidates, rejected } = await gatherCandidates(
    {
      root,
      current,
      currentText: opts.prefix + opts.suffix,
      // Open editors count as open tabs even if the caller did not list them.
      openFiles: [...(opts.openFiles ?? []), ...docs.keys()],
      recentlyEdited: opts.recentlyEdited ?? [],
    },
    src,
  );
  skipped.push(...rejected);

  const previous = (opts.previous ?? []).map((f) => normalizeRel(f, root)).filter((f): f is string => f !== undefined);
  const ordered = stableOrder(previous, candidates.map((c) => c.file));

  const placed: ContextFile[] = [];
  let used = 0;
  for (let i = 0; i < ordered.length; i++) {
    const file = ordered[i];
    const a = await src.admit(file);
    if (!a.ok) {
      skipped.push({ file, reason: a.reason });
      continue;
    }
    const cost = fileCost(file, a.text, estimate);
    if (used + cost <= budget) {
      placed.push({ file, text: a.text });
      used += cost;
    } else if (cost > budget) {
      skipped.push({ file, reason: 'budget' }); // could never fit: must not block the files after it
    } else {
      // Over budget: drop from the end, so what is placed stays a stable prefix of the order.
      for (const rest of ordered.slice(i)) skipped.push({ file: rest, reason: 'budget' });
      break;
    }
  }

  const serviceFiles = await serviceFilesOf(ordered, placed, src);
  return {
    payload: { files: placed, current: { file: current, prefix: cappedPrefix.text, suffix, ...(currentSkipped ? {} : wholeFileParts(opts, cappedPrefix.start, suffix.length)) }, ...(serviceFiles.length ? { serviceFiles } : {}) },
    files: placed.map((f) => f.file),
    skipped,
    prefixStart: cappedPrefix.start,
    estimatedTokens: reserved + used,
    ...(currentSkipped ? { currentSkipped } : {}),
  };
}

/** Caps on ContextPayload.serviceFiles: they travel with every request. */
export const SERVICE_LIMITS = { files: 128, bytes: 1024 * 1024 } as const;

/** The script candidates the token budget left out, whole and in candidate order, for the
 *  engine's language service: a member's type is often declared in an imported file that did not
 *  fit (`state.` of a type from ../internal). They pass the same gate (`admit`) as placed files. */
async function serviceFilesOf(ordered: readonly string[], placed: readonly ContextFile[], src: WorkspaceSource): Promise<ContextFile[]> {
  const inContext = new Set(placed.map((f) => f.file));
  const out: ContextFile[] = [];
  let bytes = 0;
  for (const file of ordered) {
    if (out.length >= SERVICE_LIMITS.files) break;
    if (inContext.has(file) || !SCRIPT.test(file)) continue;
    const a = await src.admit(file);
    if (!a.ok || bytes + a.text.length > SERVICE_LIMITS.bytes) continue;
    out.push({ file, text: a.text });
    bytes += a.text.length;
  }
  return out;
}

/** The current file's text cut off by the caps (`head` before the kept prefix, `tail` after the
 *  kept suffix), for the engine's language service: a name after `this.` or an imported name needs
 *  the class header and the imports, which a capped prefix may have cut. Not placed in the token
 *  stream; left out above MAX_FILE_BYTES, as a related file that large would be. */
function wholeFileParts(opts: AssembleOptions, prefixStart: number, suffixKept: number): { head?: string; tail?: string } {
  const head = opts.prefix.slice(0, prefixStart);
  const tail = opts.suffix.slice(suffixKept);
  if (head.length + tail.length > MAX_FILE_BYTES) return {};
  return { ...(head ? { head } : {}), ...(tail ? { tail } : {}) };
}

/** Only credential rules apply to the current file; size/ignore rules are for pulled-in files. */
function currentFileSkipReason(file: string, prefix: string, suffix: string): SkipReason | undefined {
  if (pathSkipReason(file) === 'secret') return 'secret';
  const aroundCursor = prefix.slice(-100) + suffix.slice(0, 100); // a marker split by the cursor
  return containsPrivateKey(prefix) || containsPrivateKey(suffix) || containsPrivateKey(aroundCursor) ? 'private-key' : undefined;
}
