// Turns an assembled context (related files, then the current file) into the token stream of
// docs/graph-contract.md, remembering for each token which file and character range it came from.
// Tokenizing 16k tokens costs ~100 ms in JS, so each file's encoding is cached and re-encoded
// incrementally from the last line that is certainly a pre-token boundary.
import type { ContextPayload } from '../shared/protocol';
import type { Specials } from './model';
import { BpeTokenizer, Encoded, SPECIAL } from './tokenizer';

/** The default model's specials and layout (suffix first, then the prefix: typing only appends). */
export const DEFAULT_SPECIALS: Specials = { ...SPECIAL, stop: new Set(Object.values(SPECIAL)), fim: 'spm' };

/** A file header without a file-separator token: a comment line in the file's own syntax. */
export function plainHeader(file: string): string {
  return /\.(py|sh|rb|ya?ml|toml|r|pl|jl|ex|exs|nim|cmake)$/i.test(file) ? `# ${file}\n` : `// ${file}\n`;
}

export const SUFFIX_TOKENS = 256;
const SUFFIX_CHARS = 2000;

export interface Stream {
  ids: number[];
  /** per token: index into `files` or -1 (headers, special tokens) */
  fileOf: Int32Array;
  /** per token: char offsets in that file's coordinates (current file: document offsets) */
  start: Int32Array;
  end: Int32Array;
  files: string[];
  /** stream index where the current file's section begins, and where its prefix begins */
  currentStart: number;
  prefixStart: number;
}

/** True when `p` (just after a '\n') is a pre-token boundary whatever follows: the line starting
 *  at p has a non-whitespace char before its end (a whitespace-only line can merge with the '\n'). */
function safeLineStart(text: string, p: number): boolean {
  for (let i = p; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n' || ch === '\r') return false;
    if (ch !== ' ' && ch !== '\t') return true;
  }
  return false;
}

export class EncodingCache {
  private readonly entries = new Map<string, { text: string; enc: Encoded }>();

  constructor(private readonly tok: BpeTokenizer, private readonly maxEntries = 256) {}

  encode(key: string, text: string): Encoded {
    const old = this.entries.get(key);
    let enc: Encoded;
    if (old && old.text === text) enc = old.enc;
    else enc = old ? this.incremental(old.text, old.enc, text) : this.tok.encode(text);
    this.entries.delete(key);
    this.entries.set(key, { text, enc });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return enc;
  }

  private incremental(oldText: string, old: Encoded, text: string): Encoded {
    let c = 0;
    const n = Math.min(oldText.length, text.length);
    while (c < n && oldText.charCodeAt(c) === text.charCodeAt(c)) c++;
    // walk back line by line to a boundary that is safe in the new text and starts a token in the old
    let p = c;
    for (let tries = 0; tries < 64 && p > 0; tries++) {
      p = text.lastIndexOf('\n', p - 2) + 1;
      if (p === 0) break;
      if (!safeLineStart(text, p) || !safeLineStart(oldText, p)) continue;
      const t = lowerBound(old.offsets, p);
      if (t < old.ids.length && old.offsets[t] === p) {
        const tail = this.tok.encode(text.slice(p));
        return {
          ids: old.ids.slice(0, t).concat(tail.ids),
          offsets: old.offsets.slice(0, t).concat(tail.offsets.map((o) => o + p)),
        };
      }
    }
    return this.tok.encode(text);
  }
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Builds the stream; `maxTokens` drops related files from the end (never the current file).
 *  `sp.fim`: `spm` (default model) `<fim_suffix>` suffix `<fim_prefix>` prefix; `psm` `<fim_prefix>` prefix
 *  `<fim_suffix>` suffix `<fim_middle>` (imported models; the suffix and the marker after the prefix are
 *  re-run on each keystroke); `none` the prefix alone. */
export function buildStream(ctx: ContextPayload, tok: BpeTokenizer, cache: EncodingCache, maxTokens: number, sp: Specials = DEFAULT_SPECIALS): Stream {
  const ids: number[] = [];
  const fileOf: number[] = [];
  const start: number[] = [];
  const end: number[] = [];
  const files: string[] = [];
  const push = (enc: Encoded, fileIndex: number, base: number, limit = Infinity) => {
    const n = Math.min(enc.ids.length, limit);
    for (let i = 0; i < n; i++) {
      ids.push(enc.ids[i]);
      fileOf.push(fileIndex);
      start.push(base + enc.offsets[i]);
      end.push(base + enc.offsets[i + 1]);
    }
  };
  const special = (id: number) => {
    ids.push(id);
    fileOf.push(-1);
    start.push(0);
    end.push(0);
  };
  const header = (file: string) => {
    if (sp.fileSep === undefined) {
      push(cache.encode(`plain-header:${file}`, plainHeader(file)), -1, 0);
      return;
    }
    special(sp.fileSep);
    push(cache.encode(`header:${file}`, file + '\n'), -1, 0);
  };
  if (sp.bos !== undefined) special(sp.bos);

  const cur = ctx.current;
  const suffixText = sp.fim === 'none' ? '' : cur.suffix.slice(0, SUFFIX_CHARS);
  const suffix = suffixText ? cache.encode(`suffix:${cur.file}`, suffixText) : { ids: [], offsets: [0] };
  // Never tokenize far more text than can fit (a 1 MB line would block the engine for seconds).
  // The cut moves in 4 KB steps so that typing keeps the incremental encoding of the prefix.
  const charCap = maxTokens * 4;
  const cut = cur.prefix.length > charCap ? Math.ceil((cur.prefix.length - charCap) / 4096) * 4096 : 0;
  const prefix = cache.encode(`prefix:${cur.file}`, cur.prefix.slice(cut));
  const headerCost = (f: string) => 2 + Math.ceil(f.length / 3);
  const currentCost = headerCost(cur.file) + 2 + Math.min(suffix.ids.length, SUFFIX_TOKENS) + prefix.ids.length;
  let budget = maxTokens - currentCost;
  for (const f of ctx.files) {
    if (f.text.length > charCap) break; // cannot fit; dropping from the end keeps the cached front
    const enc = cache.encode(`file:${f.file}`, f.text);
    const cost = headerCost(f.file) + enc.ids.length;
    if (cost > budget) break; // drop from the end: the front (and the cache built on it) survives
    budget -= cost;
    files.push(f.file);
    header(f.file);
    push(enc, files.length - 1, 0);
  }
  const currentStart = ids.length;
  files.push(cur.file);
  const ci = files.length - 1;
  header(cur.file);
  if (sp.fim === 'spm') {
    special(sp.fimSuffix!);
    push(suffix, ci, cur.prefix.length, SUFFIX_TOKENS);
    special(sp.fimPrefix!);
  } else if (sp.fim === 'psm') {
    special(sp.fimPrefix!);
  }
  const prefixStart = ids.length;
  // a prefix longer than the whole budget keeps its end (the text nearest the cursor)
  const after = sp.fim === 'psm' ? 2 + Math.min(suffix.ids.length, SUFFIX_TOKENS) : 0;
  const over = Math.max(0, prefix.ids.length - Math.max(256, maxTokens - (ids.length - currentStart) - after - 16));
  push({ ids: prefix.ids.slice(over), offsets: prefix.offsets.slice(over) }, ci, cut);
  if (sp.fim === 'psm') {
    special(sp.fimSuffix!);
    push(suffix, ci, cur.prefix.length, SUFFIX_TOKENS);
    special(sp.fimMiddle!);
  }
  return { ids, fileOf: Int32Array.from(fileOf), start: Int32Array.from(start), end: Int32Array.from(end), files, currentStart, prefixStart };
}
