// Quick answers (EngineConfig.partialContext): a completion whose related files are not cached yet
// does not wait for them. It runs on a window of the current file around the cursor (the lines just
// above it and the start of the suffix), in a cache of its own, so the first suggestion in an unseen
// repository costs a short prefill (none when the warmup has prefilled the window at this cursor);
// the warmup reads the rest in the background and later completions use the full context
// (bench/first-suggestion.md).
import type { ContextPartial, ContextPayload } from '../shared/protocol';
import { commonPrefix } from './kv-cache';
import type { Stream } from './layout';

/** A completion that would prefill more than this many tokens before its current file (related
 *  files not cached yet) answers quickly instead. Dense prefill runs at ~2,000-3,900 tokens/s on the
 *  2-core bench machine (bench/results.md), so this bounds the context part to ~0.3-0.5 s. */
export const QUICK_PREFILL_TOKENS = 1024;
/** Current-file prefix tokens a quick answer reads before the cursor: the lines nearest it carry
 *  most of what the next line needs; the whole file comes with the full context. */
export const QUICK_PREFIX_TOKENS = 640;
/** The window's start stays where it is while typing moves the cursor on (the cached window is
 *  reused token for token) until the prefix after it has grown by this many tokens. */
export const QUICK_PREFIX_GROWTH = 512;
/** Suffix tokens a quick answer reads after the cursor (the full layout reads up to SUFFIX_TOKENS). */
export const QUICK_SUFFIX_TOKENS = 64;

/** A quick answer ends at its first line: the ghost text appears as soon as that line is decoded
 *  (a multi-line answer decodes up to 16 lines first); the lines after it come from the next
 *  completion, on the full context once the warmup has read it. */
export const QUICK_FIRST_LINE_ONLY = true;

/** Code runs at ~3-4 characters per token: a cold cache's decision lays out the first related files
 *  holding this many characters per token of the bound, which then usually pass it. */
const CHARS_PER_TOKEN = 4;

export interface Quick {
  stream: Stream;
  /** decided on the first related files alone (cold cache): relatedFiles counts the assembled ones
   *  and fullContextTokens is estimated from their characters; else both are the full layout's */
  partial: ContextPartial;
  /** decode in single-line mode (QUICK_FIRST_LINE_ONLY) */
  firstLineOnly: boolean;
}

export function isQuick(s: Quick | Stream): s is Quick {
  return 'partial' in s;
}

/** `s` without its current file's prefix tokens starting before `cut` (a payload offset) and with
 *  at most `suffixTokens` of its suffix; everything else (related files, headers, FIM markers) and
 *  every kept token's file offsets stay as they are, so attribution still maps to the document. */
export function trimCurrent(s: Stream, prefixLength: number, cut: number, suffixTokens: number): Stream {
  const ci = s.files.length - 1;
  const keep: number[] = [];
  let suffixKept = 0;
  let prefixStart = -1;
  for (let i = 0; i < s.ids.length; i++) {
    if (i === s.prefixStart) prefixStart = keep.length;
    if (i >= s.currentStart && s.fileOf[i] === ci) {
      // the layout places the suffix at offsets from the prefix's length on
      if (s.start[i] >= prefixLength ? suffixKept++ >= suffixTokens : s.start[i] < cut) continue;
    }
    keep.push(i);
  }
  return {
    ids: keep.map((i) => s.ids[i]),
    fileOf: Int32Array.from(keep, (i) => s.fileOf[i]),
    start: Int32Array.from(keep, (i) => s.start[i]),
    end: Int32Array.from(keep, (i) => s.end[i]),
    files: s.files,
    currentStart: s.currentStart,
    prefixStart: prefixStart < 0 ? keep.length : prefixStart,
  };
}

/** A warmup tokenizes the related files in steps of at least this many characters. */
export const WARMUP_TOKENIZE_CHARS = 8000;

/** Lays `ctx` out a few related files more at a time (each step tokenizes only its new files; the
 *  encodings are cached), calling `check` between steps: a warmup stopped by a completion then
 *  stops within one step instead of after the whole context (~0.1-0.3 s at 16k tokens), and the
 *  completion's quick answer needs only the first files. */
export function layOutInSteps(ctx: ContextPayload, build: (ctx: ContextPayload) => Stream, check: () => void): void {
  for (let j = 0, chars = 0; j < ctx.files.length; j++) {
    check();
    chars += ctx.files[j].text.length;
    if (chars < WARMUP_TOKENIZE_CHARS) continue;
    chars = 0;
    if (build({ files: ctx.files.slice(0, j + 1), current: ctx.current }).files.length < j + 2) break; // the rest is not placed
  }
  check();
}

export class QuickContext {
  /** Where the current window starts: a line start in the payload's prefix of `file`. */
  private cut?: { file: string; at: number };

  /** `build` lays a context out as the engine does (buildStream with its encoding cache, capped at
   *  `maxTokens()`, EngineConfig.maxContextTokens). */
  constructor(
    private readonly build: (ctx: ContextPayload) => Stream,
    private readonly maxTokens: () => number,
  ) {}

  /** The stream a completion runs on. When the full layout would prefill more than
   *  QUICK_PREFILL_TOKENS before its current file (`cachedIds`: the main cache, which holds the
   *  warmup's progress): the current file's window alone, as a Quick, which the engine runs in a
   *  cache of its own; else the full stream. The window does not follow the related files the
   *  warmup has cached so far: in its own cache it survives the warmup's next chunks and the
   *  warmup's progress survives it, so typing after a quick answer and the warmup after it both
   *  reuse what they had. A cold cache is decided on the first related files alone (the fewest
   *  whose text could pass the bound), so the first answer does not wait for tokenizing the whole
   *  repository context; the warmup does that in the background. */
  stream(ctx: ContextPayload, cachedIds: readonly number[]): Quick | Stream {
    let chars = 0;
    let j = 0;
    while (j < ctx.files.length && chars < (cachedIds.length + QUICK_PREFILL_TOKENS) * CHARS_PER_TOKEN) chars += ctx.files[j++].text.length;
    if (j < ctx.files.length) {
      const part = this.build({ files: ctx.files.slice(0, j), current: ctx.current });
      // the layout places a prefix of the files in order, so these are the full layout's first ones
      const cached = commonPrefix(cachedIds, part.ids);
      if (part.files.length - 1 === j && part.currentStart - cached > QUICK_PREFILL_TOKENS) {
        const rest = ctx.files.slice(j).reduce((n, f) => n + f.text.length, 0);
        const estimate = Math.round(part.ids.length + (rest * part.currentStart) / Math.max(1, chars));
        return this.quick(ctx, ctx.files.length, Math.min(estimate, this.maxTokens()));
      }
    }
    const full = this.build(ctx);
    const cached = commonPrefix(cachedIds, full.ids);
    if (full.currentStart - cached <= QUICK_PREFILL_TOKENS) return full;
    return this.quick(ctx, full.files.length - 1, full.ids.length);
  }

  /** The quick answer: the current file's window, with no related file before it. */
  private quick(ctx: ContextPayload, related: number, fullTokens: number): Quick {
    const alone = this.build({ files: [], current: ctx.current });
    const stream = trimCurrent(alone, ctx.current.prefix.length, this.cutFor(ctx, alone), QUICK_SUFFIX_TOKENS);
    return { stream, partial: { placedFiles: 0, relatedFiles: related, fullContextTokens: fullTokens }, firstLineOnly: QUICK_FIRST_LINE_ONLY };
  }

  /** The window's start for `s` (the current file laid out whole): kept while it is still a line
   *  start of this file with at most QUICK_PREFIX_TOKENS + QUICK_PREFIX_GROWTH prefix tokens after
   *  it, else the first line start from which at most QUICK_PREFIX_TOKENS remain. */
  private cutFor(ctx: ContextPayload, s: Stream): number {
    const { file, prefix } = ctx.current;
    const ci = s.files.length - 1;
    const starts: number[] = []; // the prefix tokens' offsets, in order
    for (let i = s.currentStart; i < s.ids.length; i++) if (s.fileOf[i] === ci && s.start[i] < prefix.length) starts.push(s.start[i]);
    const old = this.cut;
    if (old && old.file === file && old.at <= prefix.length && (old.at === 0 || prefix[old.at - 1] === '\n')) {
      let after = 0;
      for (const st of starts) if (st >= old.at) after++;
      if (after <= QUICK_PREFIX_TOKENS + QUICK_PREFIX_GROWTH) return old.at;
    }
    let at = 0;
    if (starts.length > QUICK_PREFIX_TOKENS) {
      const from = starts[starts.length - QUICK_PREFIX_TOKENS];
      const nl = prefix.indexOf('\n', from - 1);
      at = nl >= 0 ? nl + 1 : from; // the next line start (or the token itself in a line without end)
    }
    this.cut = { file, at };
    return at;
  }
}
