// The numbers behind the status bar tooltip, from the last CompleteResult: how much context the
// engine holds, how much of it was reused from the cache, how many tokens each attention head
// read, time to first token and decode speed. No vscode import: unit-tested directly.
import type { CompleteResult } from '../shared/protocol';

export interface StatRow {
  label: string;
  value: string;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : '–');

export function statRows(r: CompleteResult): StatRow[] {
  const N = r.contextTokens;
  const rows: StatRow[] = [
    {
      label: 'Context',
      // a quick answer before the warmup had read the repository (EngineConfig.partialContext)
      value: r.contextPartial
        ? `${n(N)} tokens, partial: ${r.contextPartial.placedFiles} of ${r.contextPartial.relatedFiles} related files (${n(r.contextPartial.fullContextTokens)} when read)`
        : `${n(N)} tokens`,
    },
    { label: 'Reused from cache', value: `${n(r.reusedTokens)} (${pct(r.reusedTokens, N)}), ${n(r.prefilledTokens)} prefilled` },
    {
      label: 'Attended per head',
      // attended = 0: every decode step ran dense (dense policy, or a context within sinks + window + budget)
      value: r.attended > 0 && r.attended < N ? `${n(r.attended)} of ${n(N)} (${pct(r.attended, N)})` : `all ${n(N)} (dense)`,
    },
    {
      label: 'Policy',
      value: `${r.policy}, budget ${n(r.budget)}` +
        (r.predictionInterval > 1 ? `, new selection every ${r.predictionInterval} tokens` : '') +
        (r.prefill === 'sparse' && r.policy === 'tokenbutler' ? ', sparse prefill' : ''),
    },
    { label: 'Time to first token', value: `${n(r.timings.firstTokenMs)} ms` },
  ];
  if (r.contextual) {
    const c = r.contextual;
    rows.push({ label: 'Contextual sparsity', value: `${c.mode}: ${c.heads.kept}/${c.heads.of} heads, ${c.neurons.kept}/${c.neurons.of} FFN neurons per token in ${c.layers.length} layers` });
  }
  const names = monitorRow(r);
  if (names) rows.push(names);
  if (r.timings.decodeMsPerToken > 0) {
    rows.push({ label: 'Decode', value: `${(1000 / r.timings.decodeMsPerToken).toFixed(1)} tokens/s (${n(r.generatedTokens)} generated)` });
  } else {
    rows.push({ label: 'Decode', value: `${n(r.generatedTokens)} generated` });
  }
  return rows;
}

const SOURCE = { typescript: 'language service', editor: 'editor', context: 'context', copy: 'line copy', syntax: 'statement head' } as const;

/** What the monitors did for the completion's names: per name, where they came from, how many,
 *  the best ranked (e.g. `this.` → language service, 12 names, best _cache). */
function monitorRow(r: CompleteResult): StatRow | undefined {
  if (!r.monitor) return undefined;
  const { events: ev, syntaxCut, syntaxRemoved, syntaxRetry } = r.monitor;
  const cut = syntaxCut >= 0 ? `; cut at a syntax error (char ${syntaxCut}${syntaxRemoved ? `: ${JSON.stringify(syntaxRemoved.slice(0, 40))} dropped` : ''})` : '';
  const retry = syntaxRetry ? `; decoded again past a syntax error (the first try kept ${JSON.stringify(syntaxRetry.replaced.slice(0, 40))})` : '';
  if (!ev.length) return { label: 'Names', value: `no name to guide (model alone)${cut}${retry}` };
  const parts = ev.slice(0, 3).map((e) => `${SOURCE[e.source] ?? e.source}, ${n(e.candidates)} names${e.top?.length ? `, best ${e.top[0]}` : ''}`);
  const more = ev.length > 3 ? ` (+${ev.length - 3} more)` : '';
  return { label: 'Names', value: parts.join('; ') + more + cut + retry };
}

/** A two-column markdown table of the rows (values escaped for markdown). */
export function statsMarkdown(r: CompleteResult): string {
  const esc = (s: string) => s.replace(/[|\\`*_[\]<>]/g, (c) => `\\${c}`);
  const lines = ['| Last completion | |', '|:--|--:|'];
  for (const row of statRows(r)) lines.push(`| ${esc(row.label)} | ${esc(row.value)} |`);
  return lines.join('\n');
}
