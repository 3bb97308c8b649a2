// The context prior: which names followed the same receiver (`this.`, `ps.`, `self.`) earlier in
// the context, weighted by scope and recency. The language service knows which members exist; this
// knows which of them the code around the cursor keeps using. It is a soft bias on the logits,
// never a mask, so it works for every language and cannot forbid a name.

export interface PriorInput {
  receiver: string;
  /** the current file's text before the generation point (document prefix + generated text) */
  before: string;
  /** the current file's text after the cursor */
  after: string;
  /** other context files, in context order */
  files: { text: string }[];
}

/** Scope weights: the enclosing class or function, the rest of the current file, other files. */
export const SCOPE_WEIGHT = { block: 3, file: 2, other: 1 } as const;

const SELF_RECEIVERS = new Set(['this', 'self', 'cls', '@']);

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** [start, end) of the class (for this/self) or function enclosing the end of `before`, found by
 *  indentation: the nearest header line above with less indentation, to the next line after it
 *  (in before + after) that is not deeper than the header. */
export function enclosingBlock(before: string, after: string, classOnly: boolean): [number, number] | undefined {
  const curLineStart = before.lastIndexOf('\n') + 1;
  let indent = indentOf(before.slice(curLineStart));
  const header = classOnly ? /^\s*(export\s+)?(default\s+)?(abstract\s+)?(class|struct|impl|object|interface)\b/ : /\b(function|def|fn|func|class)\b|=>\s*\{?\s*$|\)\s*(:\s*[^{]*)?\{\s*$/;
  let end = curLineStart - 1;
  while (end > 0) {
    const start = before.lastIndexOf('\n', end - 1) + 1;
    const line = before.slice(start, end);
    if (line.trim()) {
      const ind = indentOf(line);
      if (ind < indent) {
        if (header.test(line)) {
          const text = before + after;
          let stop = text.indexOf('\n', before.length);
          while (stop >= 0) {
            const next = text.indexOf('\n', stop + 1);
            const l = text.slice(stop + 1, next < 0 ? text.length : next);
            if (l.trim() && indentOf(l) <= ind) break;
            stop = next;
          }
          return [start, stop < 0 ? text.length : stop];
        }
        indent = ind;
      }
    }
    end = start - 1;
  }
  return undefined;
}

/** Name -> weight in (0, 1] (1 for the strongest). Each occurrence counts scope / (1 + rank), rank
 *  being its order by closeness to the generation point (the nearest occurrence first). */
export function contextPrior(p: PriorInput): Map<string, number> {
  const self = SELF_RECEIVERS.has(p.receiver);
  const re = new RegExp(`(?<![\\w$.])${escapeRe(p.receiver)}\\??\\.([A-Za-z_$][\\w$]*)`, 'g');
  const cursor = p.before.length;
  const text = p.before + p.after;
  const block = enclosingBlock(p.before, p.after, self);
  const occ: { name: string; dist: number; scope: number }[] = [];
  for (const m of text.matchAll(re)) {
    const at = m.index!;
    if (at < cursor && at + m[0].length >= cursor) continue; // the member access being generated
    const inBlock = block !== undefined && at >= block[0] && at < block[1];
    if (self && block && !inBlock) continue; // `this` elsewhere is another class
    // text after the cursor is the user's too, but what was typed last matters more
    const dist = at < cursor ? cursor - at : 2 * (at - cursor);
    occ.push({ name: m[1], dist, scope: inBlock ? SCOPE_WEIGHT.block : SCOPE_WEIGHT.file });
  }
  if (!self) {
    let offset = 0;
    for (let f = p.files.length - 1; f >= 0; f--) {
      for (const m of p.files[f].text.matchAll(re)) occ.push({ name: m[1], dist: cursor + offset + (p.files[f].text.length - m.index!), scope: SCOPE_WEIGHT.other });
      offset += p.files[f].text.length;
    }
  }
  occ.sort((a, b) => a.dist - b.dist);
  const w = new Map<string, number>();
  occ.forEach((o, rank) => w.set(o.name, (w.get(o.name) ?? 0) + o.scope / (1 + rank)));
  const max = Math.max(0, ...w.values());
  if (max > 0) for (const [k, v] of w) w.set(k, v / max);
  return w;
}

/** For an identifier in an expression position: the names that followed the same key earlier,
 *  the key being the last identifier before the cursor and the punctuation after it (`foo(`,
 *  `x =`, `a, `). Name -> weight in (0, 1], the nearest occurrence strongest (1 / (1 + rank)). */
export function keyPrior(before: string, files: { text: string }[]): Map<string, number> {
  const w = new Map<string, number>();
  // on the tail only: an end-anchored regex over a long line retries every start (quadratic)
  const tail = before.slice(-256);
  const m = /([A-Za-z_$][\w$]*)([^\w$\n]*)$/.exec(tail);
  if (!m) return w;
  const punct = m[2].replace(/\s+/g, '');
  if (!punct) return w;
  const re = new RegExp(`(?<![\\w$])${escapeRe(m[1])}\\s*${[...punct].map(escapeRe).join('\\s*')}\\s*([A-Za-z_$][\\w$]*)`, 'g');
  const hits: string[] = [];
  for (const t of [...files.map((f) => f.text), before.slice(0, before.length - tail.length + m.index)]) for (const h of t.matchAll(re)) hits.push(h[1]);
  hits.reverse().forEach((name, rank) => w.set(name, (w.get(name) ?? 0) + 1 / (1 + rank)));
  const max = Math.max(0, ...w.values());
  if (max > 0) for (const [k, v] of w) w.set(k, v / max);
  return w;
}
