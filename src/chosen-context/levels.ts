// Importance levels of chosen context, for a few decoration types. A span's score is what the
// engine reports: the attention its strongest token received from the (layer, KV head)
// selections over the decode steps (plus what the n-gram lookup copied from it), relative to the
// most-read context token, whose score is 1. The levels cut the scores of one result in thirds of
// its strongest span's score, so the three colours are used whatever the spread.

export type ScoreLevel = 0 | 1 | 2; // low, medium, high

export const LEVEL_NAMES = ['low', 'medium', 'high'] as const;

/** Lower bounds of medium and high, as fractions of the strongest score. */
export const MEDIUM_FROM = 1 / 3;
export const HIGH_FROM = 2 / 3;

/** What the levels mean, in one line of Markdown (for the hover). */
export const LEVEL_LEGEND =
  `**high**: score ≥ ${frac(HIGH_FROM)} of the top score of this result; ` +
  `**medium**: ≥ ${frac(MEDIUM_FROM)}; **low**: below ${frac(MEDIUM_FROM)}`;

function frac(f: number): string {
  return `${Math.round(f * 3)}/3`;
}

/** Three levels relative to the strongest score, so the heatmap uses its whole range. */
export function scoreLevel(score: number, maxScore: number): ScoreLevel {
  if (!(maxScore > 0)) return 0;
  const r = score / maxScore;
  return r >= HIGH_FROM ? 2 : r >= MEDIUM_FROM ? 1 : 0;
}

export function bucketScores<T extends { score: number }>(ranges: readonly T[]): (T & { level: ScoreLevel })[] {
  const max = ranges.reduce((m, r) => Math.max(m, r.score), 0);
  return ranges.map((r) => ({ ...r, level: scoreLevel(r.score, max) }));
}
