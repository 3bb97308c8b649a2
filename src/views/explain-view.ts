// The Explain panel's HTML, built from an ExplainResult: the selected tokens coloured by
// surprisal (with top-1 marks and a per-token detail), the context spans the model relied on as
// links (file:line, score, heads, a snippet), and the policy and budget used. Everything the
// model or the workspace supplies is escaped; the page loads only media/explain.{css,js} under a
// strict CSP. No vscode import: unit-tested directly.
import { offsetToLineCol } from '../context';
import type { ExplainMonitor, ExplainResult, ExplainToken } from '../shared/protocol';
import type { DocSpan } from '../chosen-context';

export interface LocatedSpan extends DocSpan {
  line: number; // 1-based
  column: number;
  endLine: number;
  endColumn: number;
  snippet: string;
}

export interface ExplainViewModel {
  result: ExplainResult;
  file: string; // workspace-relative path of the explained file
  line: number; // 1-based line where the selection starts
  spans: LocatedSpan[]; // strongest first; the panel's links refer to them by index
  contextFiles: number; // related files placed before the current file
  truncated?: { explained: number; total: number }; // characters, when only the selection's start was explained
}

export interface PageResources {
  nonce: string;
  cspSource: string;
  styleUri: string;
  scriptUri: string;
}

const SNIPPET_CHARS = 80;

/** Adds line/column and a one-line snippet to each span; spans whose text is unknown are dropped. */
export function locateSpans(spans: readonly DocSpan[], textOf: (file: string) => string | undefined): LocatedSpan[] {
  const out: LocatedSpan[] = [];
  for (const s of spans) {
    const text = textOf(s.file);
    if (text === undefined || s.end > text.length) continue;
    const a = offsetToLineCol(text, s.start);
    const b = offsetToLineCol(text, s.end);
    const raw = text.slice(s.start, s.end).replace(/\s+/g, ' ').trim();
    const snippet = raw.length > SNIPPET_CHARS ? `${raw.slice(0, SNIPPET_CHARS - 1)}…` : raw;
    out.push({ ...s, line: a.line, column: a.column, endLine: b.line, endColumn: b.column, snippet });
  }
  return out;
}

export function surprisalBits(t: ExplainToken): number {
  return Math.max(0, -t.logprob / Math.LN2);
}

/** 0 (expected) … 4 (very surprising): the colour class of a token. */
export function surprisalLevel(bits: number): 0 | 1 | 2 | 3 | 4 {
  return bits < 1 ? 0 : bits < 3 ? 1 : bits < 6 ? 2 : bits < 10 ? 3 : 4;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function tokenDetail(t: ExplainToken): string {
  const bits = surprisalBits(t);
  const p = Math.exp(t.logprob);
  const shown = JSON.stringify(t.text);
  return `${shown} · ${bits.toFixed(2)} bits · p = ${p < 0.001 ? p.toExponential(1) : p.toFixed(3)} · ${t.top1 ? "the model's top-1 choice" : 'not the top-1 choice'}`;
}

/** Token text for a pre-wrap block: line breaks get a visible ↵ so newline tokens can be hovered. */
function tokenText(text: string): string {
  return escapeHtml(text).replace(/\r?\n/g, (nl) => `<span class="nl">↵</span>${nl}`);
}

export function renderTokens(tokens: readonly ExplainToken[]): string {
  return tokens
    .map((t) => {
      const level = surprisalLevel(surprisalBits(t));
      const cls = `tok s${level}${t.top1 ? ' top1' : ''}`;
      return `<span class="${cls}" data-detail="${escapeHtml(tokenDetail(t))}">${tokenText(t.text)}</span>`;
    })
    .join('');
}

const SOURCE_LABEL: Record<string, string> = {
  typescript: 'TypeScript language service',
  editor: "the editor's completion provider",
  context: 'the context (names used before)',
  copy: 'an earlier line of the context (line copy)',
  syntax: "the grammar (a statement head's opening bracket)",
};

/** Where the monitors supplied names: at which token, from which source, how many, the best
 *  ranked, and whether the token written there was among the allowed ones. */
export function renderMonitor(tokens: readonly ExplainToken[], monitor: readonly ExplainMonitor[] | undefined): string {
  if (monitor === undefined) return '<p class="empty">Monitors are off (setting <code>tokenbutler.monitors</code>).</p>';
  if (monitor.length === 0) return '<p class="empty">No token of the selection starts a name after <code>.</code> or in an expression: the model decoded it alone.</p>';
  const items = monitor.map((m) => {
    const tok = tokens[m.token]?.text ?? '';
    const best = m.top?.length ? ` · best: ${m.top.map((n) => `<code>${escapeHtml(n)}</code>`).join(', ')}` : '';
    const verdict = m.allowed ? 'the written token was allowed' : '<strong>the written token was not among the names</strong>';
    return `<li class="monitor${m.allowed ? '' : ' outside'}"><code>${escapeHtml(JSON.stringify(tok))}</code> (token ${m.token + 1}) · ${escapeHtml(SOURCE_LABEL[m.source] ?? m.source)} · ${m.candidates} names${best} · ${verdict}</li>`;
  });
  return `<ul class="monitors">${items.join('')}</ul>`;
}

export function renderSpans(spans: readonly LocatedSpan[]): string {
  if (spans.length === 0) {
    return '<p class="empty">No context spans were reported: every head read the whole context (dense), or the context was within the always-kept sinks and recent window.</p>';
  }
  const items = spans.map((s, i) => {
    const where = `${s.file}:${s.line}:${s.column}`;
    return (
      `<li class="span b${s.level}">` +
      `<a href="#" class="span-link" data-span="${i}" title="Open ${escapeHtml(where)}">${escapeHtml(where)}</a>` +
      `<span class="score">score ${s.score.toFixed(2)} · ${s.heads ?? 0} heads</span>` +
      `<code class="snippet">${escapeHtml(s.snippet)}</code>` +
      `</li>`
    );
  });
  return `<ol class="spans">${items.join('')}</ol>`;
}

/** ShadowLLM contextual sparsity: what each masked layer computed per token (the rest skipped). */
function contextualRow(c: ExplainResult['contextual']): string {
  if (!c) return '';
  const share = (k: { kept: number; of: number }) => `${k.kept} of ${k.of} (${Math.round((100 * k.kept) / k.of)}%)`;
  const layers = c.layers.length > 1 ? `layers ${c.layers[0]}-${c.layers[c.layers.length - 1]}` : `layer ${c.layers[0]}`;
  return `<div><dt>Contextual sparsity</dt><dd id="contextual">${escapeHtml(c.mode)}: ${layers} each compute ${share(c.heads)} heads, ${share(c.neurons)} FFN neurons per token (the other layers and prefill compute all)</dd></div>`;
}

/** What the panel shows before the result: the request is running (with the context's prefill
 *  progress, pushed by message), was cancelled, failed, or the file is never sent to the model. */
export interface PendingViewModel {
  file: string;
  line: number;
  chars: number; // characters of the selection being explained
  state: 'working' | 'cancelled' | 'failed' | 'skipped';
  message?: string; // failed / skipped: why
}

function pageHead(title: string, res: PageResources): string {
  const csp = [`default-src 'none'`, `style-src ${res.cspSource}`, `script-src 'nonce-${res.nonce}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(res.styleUri)}">
<title>${escapeHtml(title)}</title>
</head>`;
}

export function renderExplainPendingHtml(vm: PendingViewModel, res: PageResources): string {
  const chars = `${vm.chars.toLocaleString('en-US')} selected characters`;
  let body: string;
  switch (vm.state) {
    case 'working':
      body =
        `<p id="status" class="pending" role="status">Explaining ${chars}: reading the context, then one model step per token…</p>\n` +
        `<progress id="progress" aria-label="Explain progress"></progress>\n` +
        `<p id="progress-detail" class="detail" aria-live="polite"></p>\n` +
        `<button id="cancel" type="button">Cancel</button>`;
      break;
    case 'cancelled':
      body = `<p id="status" role="status">Cancelled. Run Explain Selection again to explain the ${chars}.</p>`;
      break;
    case 'failed':
      body = `<p id="status" class="note" role="alert">Explain failed: ${escapeHtml(vm.message ?? 'unknown error')}</p>`;
      break;
    case 'skipped':
      body = `<p id="status" class="note" role="status">This file is never sent to the model (${escapeHtml(vm.message ?? 'excluded')}).</p>`;
      break;
  }
  return `${pageHead('TokenButler: Explain', res)}
<body data-state="${vm.state}">
<header>
<h1>Explain <span class="where">${escapeHtml(vm.file)}:${vm.line}</span></h1>
</header>
${body}
<script nonce="${res.nonce}" src="${escapeHtml(res.scriptUri)}"></script>
</body>
</html>`;
}

export function renderExplainHtml(vm: ExplainViewModel, res: PageResources): string {
  const r = vm.result;
  const top1 = r.tokens.filter((t) => t.top1).length;
  const truncated =
    vm.truncated !== undefined
      ? `<p class="note">Only the first ${vm.truncated.explained.toLocaleString('en-US')} of the selection's ${vm.truncated.total.toLocaleString('en-US')} characters were explained.</p>`
      : '';
  const p = r.contextPartial;
  const partial = p
    ? `<p class="note" id="partial">Read before the repository context was cached: ${p.placedFiles} of ${p.relatedFiles} related files and a window of this file (${p.fullContextTokens.toLocaleString('en-US')} tokens when all is read). Explain again once the status bar's warmup is done to see the whole context.</p>`
    : '';
  return `${pageHead('TokenButler: Explain', res)}
<body>
<header>
<h1>Explain <span class="where">${escapeHtml(vm.file)}:${vm.line}</span></h1>
<dl class="meta">
<div><dt>Tokens</dt><dd id="token-count">${r.tokens.length}</dd></div>
<div><dt>Mean surprisal</dt><dd>${r.meanSurprisalBits.toFixed(2)} bits/token</dd></div>
<div><dt>Top-1</dt><dd>${top1} of ${r.tokens.length}</dd></div>
<div><dt>Policy</dt><dd id="policy">${escapeHtml(r.policy)}</dd></div>
<div><dt>Budget</dt><dd id="budget">${r.budget}</dd></div>
<div><dt>Context files</dt><dd>${vm.contextFiles} + current</dd></div>
${contextualRow(r.contextual)}
</dl>
${truncated}
${partial}
</header>
<section aria-labelledby="tokens-title">
<h2 id="tokens-title">Selected tokens by surprisal</h2>
<p class="legend"><span class="tok s0">expected</span> <span class="tok s1">&lt;3 bits</span> <span class="tok s2">&lt;6</span> <span class="tok s3">&lt;10</span> <span class="tok s4">surprising</span> <span class="tok top1">top-1</span></p>
<div id="tokens" class="tokens">${renderTokens(r.tokens)}</div>
<p id="token-detail" class="detail" aria-live="polite">Hover a token for its probability.</p>
</section>
<section aria-labelledby="monitor-title">
<h2 id="monitor-title">Names the monitors supplied</h2>
${renderMonitor(r.tokens, r.monitor)}
</section>
<section aria-labelledby="spans-title">
<h2 id="spans-title">Context the model relied on</h2>
${renderSpans(vm.spans)}
</section>
<script nonce="${res.nonce}" src="${escapeHtml(res.scriptUri)}"></script>
</body>
</html>`;
}
