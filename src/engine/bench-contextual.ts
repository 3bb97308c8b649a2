// Speed of ShadowLLM contextual sparsity (issue 29): decode steps under each setting (off, heads,
// neurons, both, with a keep share) measured side by side, per policy and context, in one run.
// As in bench.ts, the variants are interleaved round by round (each round starts with another one,
// and each variant's timed steps follow one untimed step of its own graph), and ratios against
// `off` under the same policy and context are the result, not absolute times.
import { contextualLabel, type ContextualSparsity } from '../shared/contextual';
import type { ContextualReport, Policy } from '../shared/protocol';
import { mulberry32 } from '../shared/random';
import { cycleQuantile, timeSteps } from './bench';
import { activateContextual, contextualReport, type ActiveContextual } from './contextual';
import { crossoverOn, denseBelow, setCrossover, setDenseBelow } from './crossover';
import { Engine, Hooks } from './engine';

export interface ContextualBenchOptions {
  contexts: number[];
  policies: Policy[];
  /** the settings to compare; `off` is added first when absent (the ratios' reference) */
  settings: ContextualSparsity[];
  budget: number;
  steps: number;
  /** the prediction interval of the tokenbutler rows */
  interval: number;
  /** tokenbutler decodes dense below N cached tokens (0: always selects; absent: the model's crossover) */
  denseBelow?: number;
  log: (m: string) => void;
}

export interface ContextualBenchRow {
  context: number;
  policy: Policy;
  setting: string;
  msPerToken: number;
  p90MsPerToken: number;
  /** what each masked layer computed (absent: the plain graphs ran) */
  kept?: ContextualReport;
}

const hooks: Hooks = { emit: () => undefined, cancelled: () => false };

export async function runContextualBench(engine: Engine, o: ContextualBenchOptions) {
  const m = engine.loaded!;
  const settings = o.settings.some((s) => s.mode === 'off') ? o.settings : [{ mode: 'off' as const, keep: 1 }, ...o.settings];
  if (o.denseBelow !== undefined) {
    setCrossover(m, true);
    setDenseBelow(m, o.denseBelow);
  }
  const notes: string[] = [];
  const active: { cs: ContextualSparsity; a: ActiveContextual | undefined }[] = [];
  for (const cs of settings) active.push({ cs, a: await activateContextual(m, cs, (msg) => notes.push(msg)) });
  const variants = o.policies.flatMap((policy) => active.map((s) => ({ policy, ...s, label: `${policy} ${contextualLabel(s.cs)}` })));
  const interval = (p: Policy) => (p === 'tokenbutler' ? o.interval : 1);
  const rand = mulberry32(1234);
  const ids: number[] = [];
  const rows: ContextualBenchRow[] = [];
  const per = Math.ceil(o.steps / 3);
  try {
    for (const T of [...o.contexts].sort((a, b) => a - b)) {
      const before = ids.length;
      while (ids.length < T) ids.push(5 + Math.floor(rand() * (m.config.vocab_size - 5)));
      engine.kv!.truncate(before);
      await engine.prefill(ids, hooks, 'sparse');
      const fresh = new Map(variants.map((v) => [v.label, [] as number[]]));
      const reused = new Map(variants.map((v) => [v.label, [] as number[]]));
      for (let round = 0; round < 3; round++) {
        for (const v of variants.map((_, i, a) => a[(i + round) % a.length])) {
          m.contextual = v.a;
          await timeSteps(engine, ids, T, v.policy, o.budget, interval(v.policy), per, fresh.get(v.label)!, reused.get(v.label)!);
        }
      }
      engine.kv!.truncate(T);
      for (const v of variants) {
        const n = interval(v.policy);
        const row: ContextualBenchRow = {
          context: T, policy: v.policy, setting: contextualLabel(v.cs),
          msPerToken: cycleQuantile(fresh.get(v.label)!, reused.get(v.label)!, n, 0.5),
          p90MsPerToken: cycleQuantile(fresh.get(v.label)!, reused.get(v.label)!, n, 0.9),
          ...(v.a ? { kept: contextualReport(m, v.a) } : {}),
        };
        rows.push(row);
        o.log(`context ${T}: ${v.label.padEnd(24)} ${row.msPerToken.toFixed(2)} ms/token (p90 ${row.p90MsPerToken.toFixed(2)})`);
      }
    }
  } finally {
    m.contextual = undefined;
  }
  const ratios: Record<string, number> = {};
  for (const r of rows.filter((x) => x.setting !== 'off')) {
    const off = rows.find((x) => x.context === r.context && x.policy === r.policy && x.setting === 'off');
    if (off) ratios[`${r.policy} off/${r.setting}@${r.context}`] = Number((off.msPerToken / r.msPerToken).toFixed(2));
  }
  const crossover = crossoverOn(m) ? denseBelow(m, o.interval) : 0;
  const table = [
    '| context | policy | contextual sparsity | kept per masked layer (heads, FFN neurons) | ms/token (p50) | p90 |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.context} | ${r.policy} | ${r.setting} | ${r.kept ? `${r.kept.heads.kept}/${r.kept.heads.of}, ${r.kept.neurons.kept}/${r.kept.neurons.of}` : 'all (plain graphs)'} | ${r.msPerToken.toFixed(2)} | ${r.p90MsPerToken.toFixed(2)} |`),
    '',
    `- ORT ${m.executionProvider} 1 thread; budget ${o.budget}; tokenbutler at prediction interval ${o.interval}${crossover ? `, decoding dense below ${crossover} cached tokens` : ', selecting at every context'}`,
    ...notes.map((n) => `- ${n}`),
    ...Object.entries(ratios).map(([k, v]) => `- ${k}: ${v}x (> 1: the setting is faster than off)`),
  ].join('\n');
  return { rows, ratios, table };
}
