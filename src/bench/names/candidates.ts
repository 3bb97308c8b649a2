// Tuning aid for the monitors (`--candidates`): for each next-identifier position, which names the
// sources offer at the cursor and where the written identifier ranks among them, without the LM.
// It tells how much a better ranking could gain (the written name is offered but not first) and
// how much only a wider source could (it is not offered at all).
import { closeSync, openSync, writeSync } from 'fs';
import type { ContextPayload } from '../../shared/protocol';
import { triggerAt } from '../../engine/monitors/triggers';
import type { TsService } from '../../engine/monitors/ts-service';
import { features, rank, scorerFor } from '../../engine/monitors/rank';
import { DEFAULT_MONITOR_OPTIONS, kindMap, serviceFileSet, usable } from '../../engine/monitors/monitor';

export interface CandidateRow {
  kind: string;
  file: string;
  target: string;
  ts: { n: number; has: boolean } | null;
  /** the fitted ranking's first name and the written name's rank in it (-1: not a candidate) */
  ranked: { top: string; rank: number; n: number };
  /** every candidate's features (for the fit), the written name's under `target` */
  features?: Record<string, number[]>;
  /** the text before the cursor (its last 200 characters), for reading the misses */
  near?: string;
  /** for the top-k of the ranking: the LM's [first-token, whole-name log-probability, tokens] */
  lm?: Record<string, [number, number, number]>;
}

/** The LM's log-probability of each name right at the cursor: its first token and all its tokens. */
export type LmScorer = (ctx: ContextPayload, name: string) => Promise<{ first: number; total: number; tokens: number }>;

export async function candidates(ts: TsService, kind: string, file: string, ctx: ContextPayload, target: string, withFeatures: boolean, lm?: { scorer: LmScorer; k: number }): Promise<CandidateRow> {
  const full = ctx.current.prefix + ctx.current.suffix;
  ts.setFiles(serviceFileSet(ctx, { file: ctx.current.file, text: full }));
  await ts.whenReady(20_000);
  const r = await ts.names(ctx.current.file, full, ctx.current.prefix.length, 5000);
  const trig = triggerAt(ctx.current.prefix);
  const names = r && trig && usable(r, trig) ? r.names : undefined;
  const before = ctx.current.prefix;
  const input = { kind: trig?.kind ?? 'ident', receiver: trig?.receiver, before, after: ctx.current.suffix, files: ctx.files, service: names?.length ? new Set(names) : undefined, serviceKinds: names && r?.kinds ? kindMap(names, r.kinds) : undefined, param: names ? r?.param : undefined } as const;
  const scored = [...rank(input, { scorer: scorerFor(input.kind, DEFAULT_MONITOR_OPTIONS.rankScorer) })].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const feats = withFeatures ? Object.fromEntries(features(input)) : undefined;
  let lmScores: Record<string, [number, number, number]> | undefined;
  if (lm) {
    lmScores = {};
    for (const name of scored.slice(0, lm.k)) {
      const s = await lm.scorer(ctx, name);
      lmScores[name] = [s.first, s.total, s.tokens];
    }
  }
  return {
    kind,
    file,
    target,
    ts: names ? { n: names.length, has: names.includes(target) } : null,
    ranked: { top: scored[0] ?? '', rank: scored.indexOf(target), n: scored.length },
    ...(feats ? { features: feats, near: before.slice(-200) } : {}),
    ...(lmScores ? { lm: lmScores } : {}),
  };
}

export function summarizeCandidates(rows: CandidateRow[]): string {
  const out: string[] = [];
  for (const kind of ['dot', 'arg']) {
    const k = rows.filter((r) => r.kind === kind);
    if (!k.length) continue;
    const pct = (n: number) => `${((100 * n) / k.length).toFixed(0)}% (${n}/${k.length})`;
    const withTs = k.filter((r) => r.ts && r.ts.n > 0);
    out.push(
      `${kind}: positions ${k.length}; service answers ${pct(withTs.length)} (median ${median(withTs.map((r) => r.ts!.n))} names), written name offered ${pct(withTs.filter((r) => r.ts!.has).length)}; ` +
        `ranked: has it ${pct(k.filter((r) => r.ranked.rank >= 0).length)}, first ${pct(k.filter((r) => r.ranked.rank === 0).length)}, top-3 ${pct(k.filter((r) => r.ranked.rank >= 0 && r.ranked.rank < 3).length)} (median ${median(k.map((r) => r.ranked.n))} candidates)`,
    );
  }
  return out.join('\n');
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A JSON array, one row per line, written row by row: a fitting dump with features outgrows the
 *  longest string V8 can build (about 512 MB) at some 20,000 positions. */
export function writeRows(file: string, rows: readonly unknown[]): void {
  const fd = openSync(file, 'w');
  try {
    rows.forEach((r, i) => writeSync(fd, (i ? ',\n' : '[\n') + JSON.stringify(r)));
    writeSync(fd, rows.length ? '\n]\n' : '[]\n');
  } finally {
    closeSync(fd);
  }
}
