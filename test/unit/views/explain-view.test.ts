import { describe, expect, it } from 'vitest';
import { escapeHtml, locateSpans, renderExplainHtml, renderExplainPendingHtml, renderMonitor, renderTokens, surprisalLevel, type ExplainViewModel } from '../../../src/views/explain-view';
import type { ExplainResult } from '../../../src/shared/protocol';

const result: ExplainResult = {
  tokens: [
    { text: 'return', logprob: -0.1, top1: true },
    { text: ' a', logprob: -5, top1: false },
    { text: '<b>\n', logprob: -20, top1: false },
  ],
  meanSurprisalBits: 12.3,
  policy: 'tokenbutler',
  budget: 64,
  chosen: [],
};

const res = { nonce: 'N0nce', cspSource: 'https://csp.example', styleUri: 'https://x/explain.css', scriptUri: 'https://x/explain.js' };

describe('explain view', () => {
  it('shows the kept share of heads and neurons while contextual sparsity is on, and nothing when it is off', () => {
    const vm = (r: ExplainResult): ExplainViewModel => ({ result: r, file: 'a.ts', line: 1, contextFiles: 0, spans: [] });
    const on = renderExplainHtml(vm({ ...result, contextual: { mode: 'both', layers: [1, 2, 3], heads: { kept: 3, of: 4 }, neurons: { kept: 528, of: 704 } } }), res);
    expect(on).toContain('<dd id="contextual">both: layers 1-3 each compute 3 of 4 (75%) heads, 528 of 704 (75%) FFN neurons per token');
    expect(renderExplainHtml(vm(result), res)).not.toContain('id="contextual"');
  });

  it('opens with a progress bar and a Cancel button while working, and says what ended it otherwise', () => {
    const where = { file: 'src/<a>.ts', line: 12, chars: 1234 };
    const working = renderExplainPendingHtml({ ...where, state: 'working' }, res);
    expect(working).toMatch(/Content-Security-Policy" content="default-src 'none'; style-src https:\/\/csp.example; script-src 'nonce-N0nce'"/);
    expect(working).toContain('<script nonce="N0nce" src="https://x/explain.js">');
    expect(working).toContain('<span class="where">src/&lt;a&gt;.ts:12</span>');
    expect(working).toContain('<progress id="progress"');
    expect(working).toContain('<button id="cancel"');
    expect(working).toContain('1,234 selected characters');
    expect(working).not.toContain('<a>');
    const cancelled = renderExplainPendingHtml({ ...where, state: 'cancelled' }, res);
    expect(cancelled).toContain('Cancelled.');
    const failed = renderExplainPendingHtml({ ...where, state: 'failed', message: 'engine <crashed>' }, res);
    expect(failed).toContain('Explain failed: engine &lt;crashed&gt;');
    const skipped = renderExplainPendingHtml({ ...where, state: 'skipped', message: '.env file' }, res);
    expect(skipped).toContain('never sent to the model (.env file)');
    for (const page of [cancelled, failed, skipped]) {
      expect(page).not.toContain('<progress');
      expect(page).not.toContain('<button id="cancel"');
    }
  });

  it('grades surprisal in five levels', () => {
    expect([0.2, 2, 4, 8, 30].map(surprisalLevel)).toEqual([0, 1, 2, 3, 4]);
  });

  it('renders each token with its level, a top-1 mark and an escaped detail', () => {
    const html = renderTokens(result.tokens);
    expect(html.match(/class="tok /g)).toHaveLength(3);
    expect(html).toContain('class="tok s0 top1"');
    expect(html).toContain('class="tok s4"');
    expect(html).toContain('&lt;b&gt;<span class="nl">↵</span>\n');
    expect(html).not.toContain('<b>');
    expect(html).toContain("the model&#39;s top-1 choice");
  });

  it('locates spans as file:line:column with a one-line snippet', () => {
    const text = 'line one\nexport const ORIGIN = { x: 0 };\n';
    const spans = locateSpans([{ file: 'g.ts', start: 9, end: 28, score: 1, heads: 3, level: 2 as const }, { file: 'missing.ts', start: 0, end: 1, score: 1, heads: 1, level: 2 as const }], (f) =>
      f === 'g.ts' ? text : undefined,
    );
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ line: 2, column: 1, endLine: 2, endColumn: 20, snippet: 'export const ORIGIN' });
  });

  it('builds a page with a strict CSP, nonce script, links by index, policy and budget', () => {
    const vm: ExplainViewModel = {
      result,
      file: 'src/<main>.ts',
      line: 7,
      contextFiles: 2,
      spans: locateSpans([{ file: 'g.ts', start: 0, end: 4, score: 0.5, heads: 2, level: 1 as const }], () => 'abcd'),
    };
    const html = renderExplainHtml(vm, res);
    expect(html).toContain(`content="default-src 'none'; style-src https://csp.example; script-src 'nonce-N0nce'"`);
    expect(html).toContain('<script nonce="N0nce" src="https://x/explain.js"></script>');
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/style="/); // inline styles would be blocked by the CSP
    expect(html).toContain('src/&lt;main&gt;.ts:7');
    expect(html).toContain('data-span="0"');
    expect(html).toContain('>g.ts:1:1</a>');
    expect(html).toContain('<dd id="policy">tokenbutler</dd>');
    expect(html).toContain('<dd id="budget">64</dd>');
    expect(html).toContain('<dd id="token-count">3</dd>');
  });

  it('says so when no spans were reported, and when the selection was truncated', () => {
    const html = renderExplainHtml({ result, file: 'a.ts', line: 1, contextFiles: 0, spans: [], truncated: { explained: 4000, total: 9000 } }, res);
    expect(html).toContain('No context spans were reported');
    expect(html).toContain("Only the first 4,000 of the selection's 9,000 characters");
  });

  it('says when it read a partial context (before the warmup), and not otherwise', () => {
    const partial = renderExplainHtml({ result: { ...result, contextPartial: { placedFiles: 1, relatedFiles: 6, fullContextTokens: 15771 } }, file: 'a.ts', line: 1, contextFiles: 6, spans: [] }, res);
    expect(partial).toContain('1 of 6 related files');
    expect(partial).toContain('15,771 tokens when all is read');
    expect(renderExplainHtml({ result, file: 'a.ts', line: 1, contextFiles: 6, spans: [] }, res)).not.toContain('id="partial"');
  });

  it("shows the monitors' part: the token, the source, how many names, the best ones, whether the written token was allowed", () => {
    const html = renderMonitor(result.tokens, [
      { token: 1, source: 'typescript', candidates: 12, allowed: true, top: ['a', '<x>'] },
      { token: 2, source: 'context', candidates: 3, allowed: false },
    ]);
    expect(html).toContain('(token 2) · TypeScript language service · 12 names · best: <code>a</code>, <code>&lt;x&gt;</code>');
    expect(html).toContain('the written token was allowed');
    expect(html).toMatch(/class="monitor outside">.*token 3.*the context \(names used before\) · 3 names · <strong>the written token was not among the names/);
    expect(renderMonitor(result.tokens, undefined)).toContain('Monitors are off');
    expect(renderMonitor(result.tokens, [])).toContain('decoded it alone');
    expect(renderExplainHtml({ result: { ...result, monitor: [] }, file: 'a.ts', line: 1, contextFiles: 0, spans: [] }, res)).toContain('Names the monitors supplied');
  });

  it('escapes html', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
