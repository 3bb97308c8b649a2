// Monitor-guided decoding (Agrawal et al., NeurIPS 2023): at a trigger point (the cursor, a
// generated `.`, the start of an identifier in an expression) a monitor supplies the names that
// exist there, and the decoder masks the vocabulary to the tokens that keep the identifier a
// prefix of one of them; the LM chooses among those. Sources, strongest first:
//   - the TypeScript language service (TS/JS files): a hard mask;
//   - the editor's own completion provider at the cursor (other languages, sent by the extension): a hard mask;
//   - the context prior (names that followed the same receiver in the context): a soft bias.
// Every source fails soft: no names, an error or a timeout means plain decoding for that step.
import type { MonitorEvent, MonitorSource } from '../../shared/protocol';
import { contextPrior, keyPrior } from './context-prior';
import { NameSet, isIdentChar } from './names';
import { TS_EXTENSIONS, type TsService } from './ts-service';
import { triggerAt, type Trigger } from './triggers';

/** The key prior's bias relative to the receiver prior's (tuned on the tuning half: bench/names.md). */
const KEY_PRIOR_SHARE = 0.5;

const isIdentStart = (ch: string) => /[A-Za-z_$]/.test(ch);

export type { MonitorEvent, MonitorSource } from '../../shared/protocol';

export interface Constraint {
  /** 1 = allowed; absent = every token allowed */
  allowed?: Uint8Array;
  /** added to the logits (nats) */
  bias?: Float32Array;
}

export interface MonitorOptions {
  /** Bias in nats for a token on the way to the context prior's strongest name (scaled by its weight). */
  priorBias: number;
  /** Deadline of the language-service query at the cursor, from the request's start (it runs during prefill). */
  cursorTimeoutMs: number;
  /** Deadline of each query on generated text, and their total per completion. */
  stepTimeoutMs: number;
  totalStepMs: number;
  /** Also query at identifier starts inside the generated text (after `(`, `,`, `=`), not only at generated `.`. */
  stepIdentTriggers: boolean;
}

export const DEFAULT_MONITOR_OPTIONS: MonitorOptions = { priorBias: 20, cursorTimeoutMs: 150, stepTimeoutMs: 60, totalStepMs: 150, stepIdentTriggers: false };

export interface MonitorInput {
  file: string;
  prefix: string;
  suffix: string;
  files: { file: string; text: string }[];
  /** names from the editor's completion provider at the cursor (languages without a service here) */
  editorNames?: string[];
}

interface Episode {
  start: number; // offset of the identifier in prefix + generated
  trigger: Trigger;
  hard?: NameSet;
  source?: MonitorSource;
  prior?: { set: NameSet; weight: Map<string, number> };
  event?: MonitorEvent;
}

/** Per-tokenizer tables the sessions share: each token's decoded text. */
export class Monitors {
  constructor(readonly tokenText: string[], readonly ts: TsService | undefined, readonly specialIds: number[], readonly opts: MonitorOptions = DEFAULT_MONITOR_OPTIONS) {}

  session(input: MonitorInput): MonitorSession {
    return new MonitorSession(this, input);
  }
}

export class MonitorSession {
  readonly events: MonitorEvent[] = [];
  private episode?: Episode;
  private cursorNames?: Promise<{ names?: string[]; ms: number }>;
  private stepMs = 0;
  private readonly isTs: boolean;

  constructor(private readonly m: Monitors, private readonly input: MonitorInput) {
    this.isTs = TS_EXTENSIONS.test(input.file) && m.ts !== undefined;
  }

  /** Starts the language-service query at the cursor (call before the prefill: they overlap). */
  prefetch(): void {
    if (!this.isTs || !triggerAt(this.input.prefix)) return;
    const ts = this.m.ts!;
    ts.setFiles([...this.input.files.map((f) => ({ name: f.file, text: f.text })), { name: this.input.file, text: this.input.prefix + this.input.suffix }]);
    const t0 = performance.now();
    this.cursorNames = ts.names(this.input.file, this.input.prefix + this.input.suffix, this.input.prefix.length, this.m.opts.cursorTimeoutMs)
      .then((r) => ({ names: r && !(r.newIdentifier && !r.member) ? r.names : undefined, ms: performance.now() - t0 }));
  }

  /** The constraint for the next token after `generated` (the completion so far), if any. */
  async next(generated: string): Promise<Constraint | undefined> {
    const full = this.input.prefix + generated;
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
    if (!ep.hard && !ep.prior) return undefined;
    return this.constraint(ep, trig.typed);
  }

  private async open(trig: Trigger, generated: string): Promise<Episode> {
    const ep: Episode = { start: trig.start, trigger: trig };
    const atCursor = trig.start <= this.input.prefix.length;
    const t0 = performance.now();
    let names: string[] | undefined;
    if (this.isTs) {
      if (atCursor && this.cursorNames) names = (await this.cursorNames).names;
      else if (!atCursor && this.stepMs < this.m.opts.totalStepMs && (trig.kind === 'member' || this.m.opts.stepIdentTriggers)) {
        const full = this.input.prefix + generated;
        const r = await this.m.ts!.names(this.input.file, full + this.input.suffix, full.length, this.m.opts.stepTimeoutMs);
        this.stepMs += performance.now() - t0;
        if (r && !(r.newIdentifier && !r.member)) names = r.names;
      }
      if (names?.length) ep.source = 'typescript';
    } else if (atCursor && this.input.editorNames?.length) {
      names = this.input.editorNames;
      ep.source = 'editor';
    }
    if (names?.length && trig.kind === 'ident') {
      // In scope but unknown to the service (globals of @types packages it cannot see: `process`,
      // `Buffer`): any identifier written in the context counts as existing too.
      names = [...names, ...this.contextIdentifiers()];
    }
    if (names?.length) {
      const set = new NameSet(names);
      if (set.size && (trig.typed === '' || set.hasPrefix(trig.typed))) ep.hard = set;
      else ep.source = undefined;
    }
    const before = (this.input.prefix + generated).slice(0, trig.start);
    const weight = trig.kind === 'member' && trig.receiver
      ? contextPrior({ receiver: trig.receiver, before, after: this.input.suffix, files: this.input.files })
      : trig.kind === 'ident' ? keyPrior(before, this.input.files) : undefined;
    if (weight) {
      if (ep.hard) for (const k of [...weight.keys()]) if (!ep.hard.has(k)) weight.delete(k);
      if (weight.size) ep.prior = { set: new NameSet(weight.keys()), weight };
    }
    if (ep.hard || ep.prior) {
      ep.event = { at: Math.max(0, trig.start - this.input.prefix.length), source: ep.source ?? 'context', candidates: ep.hard?.size ?? ep.prior!.set.size, prior: !!ep.prior, ms: performance.now() - t0 };
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

  private constraint(ep: Episode, typed: string): Constraint | undefined {
    const texts = this.m.tokenText;
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
          piece = piece.replace(/^[ \t]+/, '');
          if (!piece || !isIdentStart(piece[0])) {
            allowed[t] = 1;
            continue;
          }
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
      const names = ep.prior.set.withPrefix(typed);
      if (names.length) {
        const bias = new Float32Array(V);
        // the key prior (identifier starts) is weaker evidence than a receiver's history
        const beta = ep.trigger.kind === 'member' ? this.m.opts.priorBias : this.m.opts.priorBias * KEY_PRIOR_SHARE;
        for (let t = 0; t < V; t++) {
          const piece = texts[t];
          if (!isIdentChar(piece[0]) && !(typed && piece.length)) continue;
          const s = typed + piece;
          let best = 0;
          for (const name of names) {
            const w = ep.prior.weight.get(name)!;
            if (w <= best) continue;
            if (name.startsWith(s) || (s.startsWith(name) && s.length > name.length && !isIdentChar(s[name.length]))) best = w;
          }
          if (best > 0) bias[t] = beta * best;
        }
        out.bias = bias;
      }
    }
    return out.allowed || out.bias ? out : undefined;
  }
}

/** Every token's decoded text (byte-level BPE: a token holding part of a multi-byte character
 *  decodes to U+FFFD, which is no identifier character, so it is never allowed inside a name). */
export function tokenTexts(decode: (ids: number[]) => string, vocabSize: number): string[] {
  const out: string[] = new Array(vocabSize);
  for (let t = 0; t < vocabSize; t++) out[t] = decode([t]);
  return out;
}
