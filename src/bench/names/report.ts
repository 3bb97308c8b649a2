// Per-row figures over all samples and the markdown table of bench/names.md.
import { percentile } from './metrics';

export const FLOOR_ROW = 'floor';

export interface RowResult {
  completion: string;
  hit?: boolean; // next-identifier positions
  em?: boolean; // line positions
  es?: number;
  repeated: string | null; // the repeated span, tokens joined by spaces
  syntaxAdded: boolean;
  syntaxAddedSameCode?: boolean;
  newErrors: string[];
  firstTokenMs?: number; // model rows only
  totalMs?: number;
  generatedTokens?: number;
  /** the text token healing dropped from the prompt (engine CompleteResult.healed) */
  healed?: string;
  /** how long the decode waited on the monitors (engine timings.monitorMs) */
  monitorMs?: number;
  stopReason?: string;
  monitor?: unknown; // the engine's report of what the monitors did, when they ran
}

export interface Sample {
  id: number;
  kind: 'dot' | 'arg' | 'line';
  site?: string;
  family: string;
  package: string;
  file: string;
  offset: number;
  line: number; // 1-based
  column: number; // 1-based
  target: string;
  prefixTail: string;
  suffixHead: string;
  contextFiles: string[];
  contextTokens?: number;
  rows: Record<string, RowResult>;
}

export interface RowSummary {
  row: string;
  dot: { hits: number; n: number };
  arg: { hits: number; n: number };
  line: { em: number; esMean: number; n: number };
  repeated: { k: number; n: number };
  syntax: { k: number; n: number };
  firstMs: { p50: number; p95: number; n: number };
  totalMs: { p50: number; p95: number; n: number };
}

export function summarize(samples: readonly Sample[], row: string): RowSummary {
  const rs = samples.map((s) => ({ s, r: s.rows[row] })).filter((x) => x.r);
  const nim = (kind: 'dot' | 'arg') => {
    const xs = rs.filter((x) => x.s.kind === kind);
    return { hits: xs.filter((x) => x.r.hit).length, n: xs.length };
  };
  const lines = rs.filter((x) => x.s.kind === 'line');
  const first = rs.map((x) => x.r.firstTokenMs).filter((v): v is number => v !== undefined);
  const total = rs.map((x) => x.r.totalMs).filter((v): v is number => v !== undefined);
  return {
    row,
    dot: nim('dot'),
    arg: nim('arg'),
    line: {
      em: lines.filter((x) => x.r.em).length,
      esMean: lines.length ? lines.reduce((a, x) => a + (x.r.es ?? 0), 0) / lines.length : NaN,
      n: lines.length,
    },
    repeated: { k: rs.filter((x) => x.r.repeated).length, n: rs.length },
    syntax: { k: rs.filter((x) => x.r.syntaxAdded).length, n: rs.length },
    firstMs: { p50: percentile(first, 50), p95: percentile(first, 95), n: first.length },
    totalMs: { p50: percentile(total, 50), p95: percentile(total, 95), n: total.length },
  };
}

const pct = (k: number, n: number) => (n ? `${((100 * k) / n).toFixed(1)}% (${k}/${n})` : '—');
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '—');

export function table(rows: readonly (RowSummary & { label: string })[]): string {
  const head =
    '| row | NIM after-dot | NIM args / `=` | line EM | line ES | repeated span | adds syntax error | first token p50 / p95 ms | total p50 / p95 ms |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${pct(r.dot.hits, r.dot.n)} | ${pct(r.arg.hits, r.arg.n)} | ${pct(r.line.em, r.line.n)} | ` +
        `${Number.isFinite(r.line.esMean) ? r.line.esMean.toFixed(1) : '—'} (n ${r.line.n}) | ${pct(r.repeated.k, r.repeated.n)} | ` +
        `${pct(r.syntax.k, r.syntax.n)} | ${ms(r.firstMs.p50)} / ${ms(r.firstMs.p95)} (n ${r.firstMs.n}) | ${ms(r.totalMs.p50)} / ${ms(r.totalMs.p95)} |`,
    );
  }
  return lines.join('\n');
}
