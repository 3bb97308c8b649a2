// Monitor-guided decoding (Agrawal et al., NeurIPS 2023): at a trigger point (the cursor, a
// generated `.`, the start of an identifier in an expression) a monitor supplies the names that
// exist there, and the decoder masks the vocabulary to the tokens that keep the identifier a
// prefix of one of them; the LM chooses among those. Sources, strongest first:
//   - the TypeScript language service (TS/JS files): a hard mask;
//   - the editor's own completion provider at the cursor (other languages, sent by the extension): a hard mask;
//   - the ranking of the candidate names by what the context says about each (rank.ts): a soft bias.
// Every source fails soft: no names, an error or a timeout means plain decoding for that step.
import type { MonitorEvent, MonitorSource } from '../../shared/protocol';
import { NameSet, isIdentChar } from './names';
import { rank, scorerFor } from './rank';
import { headMask, headRuleAt } from './keyword-head';
import { findLineCopy, lineCopyBias, type LineCopy } from './line-copy';
import { TS_EXTENSIONS, type TsService } from './ts-service';
import { triggerAt, type Trigger } from './triggers';
import { keyFollowers } from './name-evidence';

/** Only the best-ranked names get a bias: further down the scores are too low to matter. */
const MAX_BIASED = 64;

/** The bias at an identifier start inside generated text, relative to one at the cursor (tuning half). */
const GENERATED_IDENT_SHARE = 0.4;

const JS_FILE = /\.(js|jsx|mjs|cjs)$/i;

/** The text ends with a call's `(` right after its callee (a name, a call's or an index's close). */
const CALL_OPEN = /[\w$)\]]\($/;

const isIdentStart = (ch: string) => /[A-Za-z_$]/.test(ch);
const unspaced = (t: string) => t.replace(/^[ \t]+/, '');

/** A token's text in a lead view when it does not begin with the lead: matches no name, bracket or copy. */
const NOT_LED = '\u0000';
const MAX_LEAD_VIEWS = 32;

export type { MonitorEvent, MonitorSource } from '../../shared/protocol';

export interface Constraint {
  /** 1 = allowed; absent = every token allowed */
  allowed?: Uint8Array;
  /** added to the logits (nats) */
  bias?: Float32Array;
  /** the tokens whose total probability the bias may raise by at most `classGain` nats (sampling.ts
   *  TokenFilter): at an identifier start in an expression the model decides whether a name comes
   *  (or a literal, a bracket, a keyword), the ranking mostly which name */
  keepClass?: Uint8Array;
  classGain?: number;
}

export interface MonitorOptions {
  /** Bias in nats for a token on the way to the best-ranked name after `receiver.`; a token on the
   *  way to another name gets this plus `rankScale` times that name's score (<= 0). */
  memberBias: number;
  /** The same at the start of an identifier in an expression (where a literal or a bracket may come instead). */
  identBias: number;
  /** There, how many nats the bias may raise the model's probability that a name comes at all,
   *  where the same key has no history; with one, plus `identClassHistory` times the log odds of a
   *  name among the key's earlier followers (name-evidence.ts keyFollowers, one pseudo-count each:
   *  `type: 'query'` above lowers it, `reject(err)` raises it). Infinity: no limit. */
  identClassGain: number;
  identClassHistory: number;
  /** Nats per unit of the ranking's score (1: the fitted log-probabilities as they are). */
  rankScale: number;
  /** How long the first step waits for the language-service query at the cursor, from the request's
   *  start (it runs during prefill). */
  cursorTimeoutMs: number;
  /** How long that query may run: an answer that comes after `cursorTimeoutMs` but before the first
   *  step (a long prefill) is still used; one that comes later is not waited for. */
  cursorMaxMs: number;
  /** Deadline of each query on generated text, and their total per completion. */
  stepTimeoutMs: number;
  totalStepMs: number;
  /** Inside generated text, bias an identifier start only toward names that followed the same key. */
  generatedIdentKeyedOnly: boolean;
  /** Also query at identifier starts inside the generated text (after `(`, `,`, `=`), not only at generated `.`. */
  stepIdentTriggers: boolean;
  /** The line-copy monitor's bias (nats) toward the continuation of an earlier line that matched
   *  the current line's tail (line-copy.ts), at a match of 32 characters or more; 0 turns it off. */
  lineCopyBias: number;
  /** Right after a call's `(` (TS/JS): a callee that takes no argument is closed at once, and one
   *  that requires one is not (the service's signature help; Agrawal et al.'s argument-count monitor). */
  arity: boolean;
  /** Added to the ranking's score (log-probability units, before `rankScale`) of a member that fits
   *  the type the code expects after `receiver.` (ts-worker.ts membersFitting); 0 turns it off. */
  typeFit: number;
  /** Which ranking scores the names: the gradient-boosted trees (rank.ts TREE_SCORERS) or the
   *  linear and hidden-layer scorers fitted before them (`fitted`, rank-weights.ts). */
  rankScorer: 'trees' | 'fitted';
  /** TS/JS, at an identifier start at the cursor that the parser reads as a type
   *  (NamesResult.position): no names, no ranking, no class gain there. */
  positionGate: boolean;
}

export const DEFAULT_MONITOR_OPTIONS: MonitorOptions = { memberBias: 40, identBias: 25, identClassGain: 6, identClassHistory: 2, rankScale: 10, generatedIdentKeyedOnly: true, cursorTimeoutMs: 150, cursorMaxMs: 1000, stepTimeoutMs: 60, totalStepMs: 150, stepIdentTriggers: false, lineCopyBias: 8, arity: true, typeFit: 3, rankScorer: 'trees', positionGate: true };

export interface MonitorInput {
  file: string;
  prefix: string;
  suffix: string;
  files: { file: string; text: string }[];
  /** names from the editor's completion provider at the cursor (languages without a service here) */
  editorNames?: string[];
  /** the file's text before `prefix` / after `suffix` that the context caps cut off: the language
   *  service reads the whole file (the class around `this.`, the imports); the ranking reads what
   *  the model reads, as it was fitted */
  head?: string;
  tail?: string;
  /** related files the token budget left out (ContextPayload.serviceFiles): the service only */
  serviceFiles?: { file: string; text: string }[];
}

/** The files the language service reads: the placed ones, the ones only it reads, then the current
 *  file as `text`. */
export function serviceFileSet(c: { files: { file: string; text: string }[]; serviceFiles?: { file: string; text: string }[] }, current: { file: string; text: string }): { name: string; text: string }[] {
  const out = c.files.map((f) => ({ name: f.file, text: f.text }));
  for (const f of c.serviceFiles ?? []) out.push({ name: f.file, text: f.text });
  out.push({ name: current.file, text: current.text });
  return out;
}

/** The current file as the language service reads it (the cut-off head and tail around the placed
 *  prefix and suffix) with `generated` inserted at the cursor, and the offset right after it. */
export function serviceText(c: { prefix: string; suffix: string; head?: string; tail?: string }, generated = ''): { text: string; at: number } {
  const before = (c.head ?? '') + c.prefix + generated;
  return { text: before + c.suffix + (c.tail ?? ''), at: before.length };
}

interface Episode {
  start: number; // offset of the identifier in prefix + generated
  trigger: Trigger;
  hard?: NameSet;
  source?: MonitorSource;
  /** the best-ranked names, their scores (nats, 0 for the best) */
  prior?: { set: NameSet; score: Map<string, number> };
  event?: MonitorEvent;
  /** at an identifier start: how far the names' bias may raise the probability that a name comes */
  classGain?: number;
  /** right after a call's `(`: how many arguments the callee takes (the service's signature help) */
  arity?: { min: number; max: number };
}

/** Per-tokenizer tables the sessions share: each token's decoded text. */
export class Monitors {
  /** each token's text without leading spaces and tabs (spacing before a name leads to the name) */
  readonly unspacedText: string[];

  constructor(readonly tokenText: string[], readonly ts: TsService | undefined, readonly specialIds: number[], readonly opts: MonitorOptions = DEFAULT_MONITOR_OPTIONS) {
    this.unspacedText = tokenText.map(unspaced);
  }

  private readonly leadViews = new Map<string, { text: string[]; unspaced: string[] }>();

  /** The tokens as they continue the text after `lead`, which the next token must begin with (token
   *  healing, decode/heal.ts): each token's text past `lead`, '' for one that spells only a part of
   *  it, NOT_LED for any other (the decoder masks those). Built once per lead; the masks of
   *  keyword-head.ts are memoized by this array. */
  view(lead: string): { text: string[]; unspaced: string[] } {
    let v = this.leadViews.get(lead);
    if (!v) {
      const text = this.tokenText.map((t) => (t.startsWith(lead) ? t.slice(lead.length) : t && lead.startsWith(t) ? '' : NOT_LED));
      v = { text, unspaced: text.map(unspaced) };
      if (this.leadViews.size >= MAX_LEAD_VIEWS) this.leadViews.delete(this.leadViews.keys().next().value as string);
      this.leadViews.set(lead, v);
    }
    return v;
  }

  session(input: MonitorInput): MonitorSession {
    return new MonitorSession(this, input);
  }
}

/** A service answer names what exists: a member list, or the names in scope at an identifier in an
 *  expression (which the service calls a "new identifier location" too, as an arrow function's
 *  parameter could start there); elsewhere a new-identifier location is a declaration's name. */
export function usable(r: { member: boolean; newIdentifier: boolean }, trig: Trigger): boolean {
  return r.member || trig.kind === 'ident' || !r.newIdentifier;
}

export class MonitorSession {
  readonly events: MonitorEvent[] = [];
  private episode?: Episode;
  private cursorNames?: Promise<{ names?: string[]; kinds?: string[]; param?: string; arity?: { min: number; max: number }; fits?: string[]; position?: 'type'; ms: number }>;
  private cursorT0 = 0;
  private stepMs = 0;
  private readonly isTs: boolean;

  constructor(private readonly m: Monitors, private readonly input: MonitorInput) {
    this.isTs = TS_EXTENSIONS.test(input.file) && m.ts !== undefined;
  }

  /** Starts the language-service query at the cursor (call before the prefill: they overlap). */
  prefetch(): void {
    const trig = triggerAt(this.input.prefix);
    if (!this.isTs || !trig) return;
    const ts = this.m.ts!;
    const whole = this.serviceText('');
    ts.setFiles(serviceFileSet(this.input, { file: this.input.file, text: whole.text }));
    const t0 = (this.cursorT0 = performance.now());
    this.cursorNames = ts.names(this.input.file, whole.text, whole.at, Math.max(this.m.opts.cursorTimeoutMs, this.m.opts.cursorMaxMs))
      .then((r) => (r && usable(r, trig) ? { names: r.names, kinds: r.kinds, param: r.param, arity: r.arity, fits: r.fits, position: r.position, ms: performance.now() - t0 } : { arity: r?.arity, ms: performance.now() - t0 }));
  }

  private serviceText(generated: string): { text: string; at: number } {
    return serviceText(this.input, generated);
  }

  /** The constraint for the next token after `generated` (the completion so far), if any: a
   *  statement head's opening bracket, else the names' mask and bias plus the line copy's bias.
   *  `lead`: text already at the end of the document prefix + `generated` that the next token must
   *  spell out again (token healing, decode/heal.ts): the constraint then reads each token past it. */
  async next(generated: string, lead = ''): Promise<Constraint | undefined> {
    const full = this.input.prefix + generated;
    if (!lead) return this.constraintAfter(generated, full, { text: this.m.tokenText, unspaced: this.m.unspacedText });
    const v = this.m.view(lead);
    return leadAlone(await this.constraintAfter(generated, full, v), v.text);
  }

  private async constraintAfter(generated: string, full: string, v: { text: readonly string[]; unspaced: readonly string[] }): Promise<Constraint | undefined> {
    const head = this.headConstraint(generated, full, v.text);
    if (head) return head;
    const names = await this.nameConstraint(generated, full, v);
    const copy = this.copyBias(generated, v.text);
    if (!copy) return names;
    if (!names?.bias) return { ...names, bias: copy };
    for (let t = 0; t < copy.length; t++) names.bias[t] += copy[t];
    return names;
  }

  /** After `if`, `while`, ... in a language with parenthesised heads: only a token that opens it
   *  (`full`: the document prefix and `generated`). */
  private headConstraint(generated: string, full: string, texts: readonly string[]): Constraint | undefined {
    const rule = headRuleAt(this.input.file, full);
    if (!rule) return undefined;
    const allowed = headMask(rule, texts);
    let n = 0;
    for (const a of allowed) n += a;
    if (!n) return undefined;
    this.events.push({ at: generated.length, source: 'syntax', candidates: n, prior: false, top: [`${rule.keyword} (`], ms: 0 });
    return { allowed };
  }

  private copy?: LineCopy | null;
  private copyBias(generated: string, texts: readonly string[]): Float32Array | undefined {
    if (this.m.opts.lineCopyBias <= 0) return undefined;
    if (this.copy === undefined) {
      this.copy = findLineCopy(this.input.files, this.input.prefix) ?? null;
      if (this.copy) this.events.push({ at: 0, source: 'copy', candidates: 1, prior: false, top: [this.copy.text.slice(0, 60)], ms: 0 });
    }
    return this.copy ? lineCopyBias(this.copy, generated, texts, this.m.opts.lineCopyBias) : undefined;
  }

  /** `full`: the document prefix and `generated`. */
  private async nameConstraint(generated: string, full: string, v: { text: readonly string[]; unspaced: readonly string[] }): Promise<Constraint | undefined> {
    const trig = triggerAt(full);
    if (!trig) {
      this.episode = undefined;
      return undefined;
    }
    // spacing typed before a name (`f(a, ` + ` b`) stays in the same episode
    const same = this.episode && trig.start >= this.episode.start && full.slice(this.episode.start, trig.start).trim() === '';
    const ep = same ? this.episode! : await this.open(trig, generated);
    this.episode = ep;
    ep.start = trig.start;
    ep.trigger = trig;
    if (!ep.hard && !ep.prior && !ep.arity) return undefined;
    // a token's leading spacing may lead to the name only where no spacing or bracket precedes it
    // (`x =` + ` y`); right after `.`, `(`, or a space it would write `x. y`, `f( y`, `x =  y`
    const prev = full[trig.start - 1] ?? '';
    const spaceLeads = trig.kind !== 'member' && prev !== '' && !/[\s([{.]/.test(prev);
    return this.constraint(ep, trig.typed, spaceLeads, v, full.endsWith('('));
  }

  private async open(trig: Trigger, generated: string): Promise<Episode> {
    const ep: Episode = { start: trig.start, trigger: trig };
    const atCursor = trig.start <= this.input.prefix.length;
    const t0 = performance.now();
    let names: string[] | undefined;
    let kinds: string[] | undefined;
    let param: string | undefined;
    let arity: { min: number; max: number } | undefined;
    let fits: string[] | undefined;
    let position: 'type' | undefined;
    const before = (this.input.prefix + generated).slice(0, trig.start);
    const afterCall = trig.kind === 'ident' && CALL_OPEN.test(before);
    if (this.isTs) {
      if (atCursor && this.cursorNames) {
        // wait out the rest of cursorTimeoutMs; past it, take the answer only if it is already there
        const left = Math.max(0, this.m.opts.cursorTimeoutMs - (performance.now() - this.cursorT0));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([this.cursorNames, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), left)))]);
        clearTimeout(timer);
        if (r) ({ names, kinds, param, arity, fits, position } = r);
      }
      else if (!atCursor && this.stepMs < this.m.opts.totalStepMs && (trig.kind === 'member' || this.m.opts.stepIdentTriggers || (afterCall && this.m.opts.arity))) {
        const whole = this.serviceText(generated);
        const r = await this.m.ts!.names(this.input.file, whole.text, whole.at, this.m.opts.stepTimeoutMs);
        this.stepMs += performance.now() - t0;
        arity = r?.arity;
        // a query made for the arity alone leaves the names to the ranking, as at any generated identifier start
        if (r && usable(r, trig) && (trig.kind === 'member' || this.m.opts.stepIdentTriggers)) ({ names, kinds, param, fits } = r);
      }
      if (afterCall && this.m.opts.arity && arity && (arity.max === 0 || arity.min > 0)) ep.arity = arity;
      // In a type the names in scope are values, and the ranking and the class gain push toward them
      // (`value: ` + `castDraft`, `input: ` + `ErrorHandlerOptions`): the model decides there.
      if (trig.kind === 'ident' && position === 'type' && this.m.opts.positionGate) {
        this.events.push({ at: Math.max(0, trig.start - this.input.prefix.length), source: 'typescript', candidates: 0, prior: false, top: ['a type: no value names'], ms: performance.now() - t0 });
        return ep;
      }
      if (names?.length) ep.source = 'typescript';
    } else if (atCursor && this.input.editorNames?.length) {
      names = this.input.editorNames;
      ep.source = 'editor';
    }
    const offered = ep.source === 'typescript' || ep.source === 'editor' ? new Set(names) : undefined;
    const serviceKinds = ep.source === 'typescript' && names && kinds ? kindMap(names, kinds) : undefined;
    if (names?.length && trig.kind === 'ident') {
      // In scope but unknown to the service (globals of @types packages it cannot see: `process`,
      // `Buffer`): any identifier written in the context counts as existing too.
      names = [...names, ...this.contextIdentifiers()];
    }
    // In JavaScript the service infers members from assignments it can see and misses the rest
    // (measured on the tuning half: as a mask it lost 5 of 21 hits): there its names are evidence, not a mask.
    if (names?.length && !(ep.source === 'typescript' && JS_FILE.test(this.input.file))) {
      const set = new NameSet(names);
      if (set.size && (trig.typed === '' || set.hasPrefix(trig.typed))) ep.hard = set;
      else ep.source = undefined;
    }
    // At the cursor the ranking speaks for every name; inside generated text an identifier start
    // gets a bias only toward names that followed the same key (`f(` -> what `f(` took before), so
    // the model stays free to write a literal or a bracket there.
    const keyedOnly = trig.kind === 'ident' && !atCursor && this.m.opts.generatedIdentKeyedOnly;
    const scores = rank({ kind: trig.kind, receiver: trig.receiver, before, after: this.input.suffix, files: this.input.files, service: offered?.size ? offered : undefined, serviceKinds, param }, { keyedOnly, scorer: scorerFor(trig.kind, this.m.opts.rankScorer) });
    if (ep.hard) for (const k of [...scores.keys()]) if (!ep.hard.has(k)) scores.delete(k);
    if (ep.source === 'typescript' && fits && this.m.opts.typeFit) for (const k of fits) if (scores.has(k)) scores.set(k, scores.get(k)! + this.m.opts.typeFit);
    if (trig.keyword === 'new') constructorsOnly(scores, serviceKinds);
    const best = [...scores].sort((a, b) => b[1] - a[1]).slice(0, MAX_BIASED);
    if (best.length) ep.prior = { set: new NameSet(best.map(([k]) => k)), score: new Map(best) };
    if (trig.kind === 'ident' && trig.typed === '' && Number.isFinite(this.m.opts.identClassGain)) {
      const f = keyFollowers(this.input.files.map((x) => x.text), before);
      ep.classGain = Math.max(0, this.m.opts.identClassGain + (f ? this.m.opts.identClassHistory * Math.log((f.name + 1) / (f.other + 1)) : 0));
    }
    if (ep.arity) this.events.push({ at: Math.max(0, trig.start - this.input.prefix.length), source: 'typescript', candidates: 0, prior: false, top: [ep.arity.max === 0 ? '() takes no argument' : `() takes ${ep.arity.min}+ arguments`], ms: performance.now() - t0 });
    if (ep.hard || ep.prior) {
      ep.event = { at: Math.max(0, trig.start - this.input.prefix.length), source: ep.source ?? 'context', candidates: ep.hard?.size ?? ep.prior!.set.size, prior: !!ep.prior, top: best.slice(0, 3).map(([k]) => k), ms: performance.now() - t0 };
      this.events.push(ep.event);
    }
    return ep;
  }

  private identifiers?: Set<string>;
  private contextIdentifiers(): Set<string> {
    if (!this.identifiers) {
      this.identifiers = new Set();
      const texts = [this.input.prefix, this.input.suffix, ...this.input.files.map((f) => f.text)];
      for (const t of texts) for (const m of t.matchAll(/[A-Za-z_$][\w$]*/g)) this.identifiers.add(m[0]);
    }
    return this.identifiers;
  }

  private constraint(ep: Episode, typed: string, spaceLeads: boolean, v: { text: readonly string[]; unspaced: readonly string[] }, rightAfterOpen = false): Constraint | undefined {
    const texts = v.text;
    const V = texts.length;
    const out: Constraint = {};
    // In an expression position the model may also start something that is not a name (`)`, a
    // literal, a bracket): only a token that starts an identifier is held to the names.
    const optional = ep.trigger.kind === 'ident' && typed === '';
    if (ep.hard) {
      const allowed = new Uint8Array(V);
      let n = 0;
      const complete = typed !== '' && ep.hard.has(typed);
      for (let t = 0; t < V; t++) {
        let piece = texts[t];
        if (optional) {
          const bare = v.unspaced[t];
          if (!bare || !isIdentStart(bare[0])) {
            allowed[t] = 1;
            continue;
          }
          if (bare !== piece && !spaceLeads) continue; // a name after doubled spacing
          piece = bare;
        }
        if (ep.hard.allows(typed, piece)) {
          allowed[t] = 1;
          n++;
        }
      }
      if (complete || optional) for (const s of this.m.specialIds) allowed[s] = 1;
      if (n > 0) out.allowed = allowed;
    }
    if (ep.prior) {
      if (ep.prior.set.hasPrefix(typed)) {
        const bias = new Float32Array(V);
        const { rankScale } = this.m.opts;
        // inside generated text an identifier start is weaker evidence (the key's history alone)
        const beta = ep.trigger.kind === 'member' ? this.m.opts.memberBias : ep.start > this.input.prefix.length ? this.m.opts.identBias * GENERATED_IDENT_SHARE : this.m.opts.identBias;
        const unspaced = typed === '' && spaceLeads;
        for (let t = 0; t < V; t++) {
          const piece = unspaced ? v.unspaced[t] : texts[t];
          if (!isIdentChar(piece[0]) && !(typed && piece.length)) continue;
          const best = ep.prior.set.bestScore(typed, piece, ep.prior.score);
          if (best > -Infinity) bias[t] = Math.max(0, beta + rankScale * best);
        }
        out.bias = bias;
        if (optional && ep.classGain !== undefined) {
          // the class: the biased names, and the mass of the names the mask closes goes to them
          const allowed = out.allowed;
          out.keepClass = Uint8Array.from(bias, (b, t) => (b > 0 ? 1 : allowed && !allowed[t] && v.unspaced[t] && isIdentStart(v.unspaced[t][0]) ? 2 : 0));
          out.classGain = ep.classGain;
        }
      }
    }
    if (ep.arity && rightAfterOpen) applyArity(out, ep.arity, texts);
    return out.allowed || out.bias ? out : undefined;
  }
}

/** After `new `, the ranking's bias goes to constructors only: a class the service names, or a name
 *  that starts with a capital (`TRPCError`, `Point`), the convention for constructors in JS. Another
 *  name (`new ns.Foo`) stays allowed, without a bias. The scores stay relative to the best left. */
function constructorsOnly(scores: Map<string, number>, kinds: ReadonlyMap<string, string> | undefined): void {
  let best = -Infinity;
  for (const [k, s] of [...scores]) {
    if (/^[_$]*[A-Z]/.test(k) || kinds?.get(k) === 'class') best = Math.max(best, s);
    else scores.delete(k);
  }
  for (const [k, s] of scores) scores.set(k, s - best);
}

/** Right after a call's `(`: a callee that takes no argument gets only a token that closes the call
 *  (`)` first); one that requires an argument gets no token that closes it at once. */
function applyArity(out: Constraint, arity: { min: number; max: number }, texts: readonly string[]): void {
  const closes = (t: string) => t.trimStart().startsWith(')');
  if (arity.max === 0) {
    const allowed = new Uint8Array(texts.length);
    let n = 0;
    for (let t = 0; t < texts.length; t++) {
      if (!texts[t].startsWith(')')) continue;
      allowed[t] = 1;
      n++;
    }
    if (!n) return;
    out.allowed = allowed;
    out.bias = undefined;
    out.keepClass = undefined;
    out.classGain = undefined;
    return;
  }
  const allowed = out.allowed ?? new Uint8Array(texts.length).fill(1);
  for (let t = 0; t < texts.length; t++) if (closes(texts[t])) allowed[t] = 0;
  out.allowed = allowed;
}

/** In a lead view a token that is the lead or a part of it (text '') commits to nothing yet: it is
 *  allowed and, unless a class gain holds the names' bias (then it keeps the model's own
 *  probability), biased as the best token is. Copies: a head mask is shared. */
function leadAlone(c: Constraint | undefined, texts: readonly string[]): Constraint | undefined {
  if (!c) return c;
  const out: Constraint = {};
  let best = 0;
  if (c.bias) for (const b of c.bias) best = Math.max(best, b);
  if (c.allowed) out.allowed = Uint8Array.from(c.allowed);
  if (c.bias) out.bias = Float32Array.from(c.bias);
  if (c.keepClass) {
    out.keepClass = Uint8Array.from(c.keepClass);
    out.classGain = c.classGain;
  }
  for (let t = 0; t < texts.length; t++) {
    if (texts[t] !== '') continue;
    if (out.allowed) out.allowed[t] = 1;
    // under a class gain the model weighs the names against the rest, and such a token is neither
    if (out.bias && !out.keepClass) out.bias[t] = best;
  }
  return out;
}

/** Name -> the service's kind for it. */
export function kindMap(names: string[], kinds: string[]): Map<string, string> {
  const out = new Map<string, string>();
  names.forEach((n, i) => kinds[i] !== undefined && out.set(n, kinds[i]));
  return out;
}
