// Token budgeting for the current file. The suffix is capped hard (the model needs only the next
// few lines to know where to stop); the prefix is capped at a line boundary that moves in steps of
// PREFIX_CUT_STEP lines, so the cut point, and with it the cached prefix, rarely changes as the
// user types below it.

export const SUFFIX_MAX_CHARS = 2000;
export const SUFFIX_MAX_LINES = 30;
export const PREFIX_CUT_STEP = 32;

export const defaultEstimateTokens = (text: string): number => Math.ceil(text.length / 3);

/** At most SUFFIX_MAX_LINES lines and about SUFFIX_MAX_CHARS chars, cut at a line end when possible. */
export function capSuffix(suffix: string, maxChars = SUFFIX_MAX_CHARS, maxLines = SUFFIX_MAX_LINES): string {
  let end = -1;
  for (let i = 0; i < maxLines; i++) {
    end = suffix.indexOf('\n', end + 1);
    if (end < 0) break;
  }
  let s = end < 0 ? suffix : suffix.slice(0, end);
  if (s.length > maxChars) {
    const nl = s.lastIndexOf('\n', maxChars);
    s = s.slice(0, nl > 0 ? nl : maxChars);
  }
  return s;
}

/** Keep the end of the prefix within maxTokens; `start` is where the kept text begins. */
export function capPrefix(prefix: string, maxTokens: number, estimate: (t: string) => number): { text: string; start: number } {
  if (estimate(prefix) <= maxTokens) return { text: prefix, start: 0 };
  const cuts: number[] = []; // starts of lines PREFIX_CUT_STEP, 2·PREFIX_CUT_STEP, ...
  let line = 0;
  for (let nl = prefix.indexOf('\n'); nl >= 0; nl = prefix.indexOf('\n', nl + 1)) {
    if (++line % PREFIX_CUT_STEP === 0) cuts.push(nl + 1);
  }
  // Smallest cut whose remainder fits (estimates grow with length, so binary search).
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (estimate(prefix.slice(cuts[mid])) <= maxTokens) hi = mid;
    else lo = mid + 1;
  }
  if (lo < cuts.length) return { text: prefix.slice(cuts[lo]), start: cuts[lo] };
  // Even the last block is too big (very long lines): fall back to a character cut.
  lo = 0;
  hi = prefix.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (estimate(prefix.slice(mid)) <= maxTokens) hi = mid;
    else lo = mid + 1;
  }
  return { text: prefix.slice(lo), start: lo };
}

/** Estimated cost of one related file: its text plus a header naming it. */
export function fileCost(file: string, text: string, estimate: (t: string) => number): number {
  return estimate(`${file}\n`) + estimate(text);
}
