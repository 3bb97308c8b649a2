// Token healing at the cursor. The prompt's last token is whatever the tokenizer made of the text
// before the cursor, and that is often a piece the model seldom saw followed by a separate token:
// after `ping ` the prompt ends in a lone space token, while in training the space came merged with
// the next word or operator (` =`, ` <`); the model then writes `queue = () => {`, which the syntax
// cut removes whole. Healing drops that last token from the prompt and makes the first generated
// tokens spell its text out (one that begins with it, or a part of it and then the rest), so the
// model picks among the tokens it knows there (` =`, ` setTimeout`); the suggestion is what follows
// the healed text.
import type { Stream } from '../layout';

export interface Heal {
  /** the dropped token's text: the completion's first tokens spell it out, then go on */
  text: string;
  /** the prompt without the dropped token */
  ids: number[];
  /** each token's text (the vocabulary the masks are built over) */
  tokenText: readonly string[];
}

/** Per vocabulary: each healed text's mask (a handful of distinct texts occur: spacing, brackets, word ends). */
const masks = new WeakMap<readonly string[], Map<string, Uint8Array>>();
const MAX_MASKS = 256;

/** Tokens that may come while `need` (the healed text not yet written) is left: those that begin
 *  with it, and those that are a part of it (` ` of `  `: indentation is `ĠĠĠ` + `Ġreturn`, so a
 *  prompt that ends in `ĠĠĠĠ` heals through a shorter run). */
export function healMask(tokenText: readonly string[], need: string): Uint8Array {
  let byText = masks.get(tokenText);
  if (!byText) masks.set(tokenText, (byText = new Map()));
  let mask = byText.get(need);
  if (!mask) {
    mask = new Uint8Array(tokenText.length);
    for (let t = 0; t < tokenText.length; t++) {
      const piece = tokenText[t];
      if (piece && (piece.startsWith(need) || need.startsWith(piece))) mask[t] = 1;
    }
    if (byText.size >= MAX_MASKS) byText.delete(byText.keys().next().value as string);
    byText.set(need, mask);
  }
  return mask;
}

/** The healed text still to write after the first tokens `out` of a completion ('' once written). */
export function healNeed(heal: Heal | undefined, out: readonly number[]): string {
  if (!heal) return '';
  let need = heal.text;
  for (const t of out) {
    if (!need) break;
    const piece = heal.tokenText[t];
    need = need.startsWith(piece) ? need.slice(piece.length) : '';
  }
  return need;
}

/** The heal for a prompt that ends in the current file's prefix (the suffix-first layout): the
 *  last token's text holds no line break (a line rule reads the text), decodes to whole characters,
 *  and some other token begins with it or spells a part of it. */
export function healFor(s: Stream, tokenText: readonly string[]): Heal | undefined {
  const last = s.ids.length - 1;
  if (last < s.prefixStart || s.fileOf[last] !== s.files.length - 1) return undefined;
  const text = tokenText[s.ids[last]];
  if (!text || text.includes('\n') || text.includes('\r') || text.includes('\uFFFD')) return undefined;
  const mask = healMask(tokenText, text);
  let other = false;
  for (let t = 0; t < mask.length && !other; t++) other = mask[t] === 1 && t !== s.ids[last];
  return other ? { text, ids: s.ids.slice(0, last), tokenText } : undefined;
}

/** `decode` for the generated tokens of a healed prompt: their text past the healed part ('' while
 *  they spell only a part of it). */
export function healedDecode(decode: (ids: number[]) => string, heal: Heal | undefined): (ids: number[]) => string {
  if (!heal) return decode;
  return (ids) => {
    const t = decode(ids);
    if (t.startsWith(heal.text)) return t.slice(heal.text.length);
    return heal.text.startsWith(t) ? '' : t;
  };
}

/** The allowed set while `need` is left: the monitors' (if any) within the heal's, else the heal's. */
export function healedAllowed(heal: Heal, need: string, allowed: Uint8Array | undefined): Uint8Array {
  const mask = healMask(heal.tokenText, need);
  if (!allowed) return mask;
  const both = new Uint8Array(allowed.length);
  let n = 0;
  for (let t = 0; t < both.length; t++) {
    if (!allowed[t] || !mask[t]) continue;
    both[t] = 1;
    n++;
  }
  return n ? both : mask;
}

/** Whether completions heal the prompt's last token (the names bench turns it off to compare). */
export const TOKEN_HEALING = { enabled: true };

const vocabularies = new WeakMap<object, string[]>();

/** Each token's decoded text, once per tokenizer (the monitors and the heal share it). Byte-level
 *  BPE: a token holding part of a multi-byte character decodes to U+FFFD. */
export function vocabularyTexts(tok: { decode(ids: number[]): string; vocabSize: number }): string[] {
  let texts = vocabularies.get(tok);
  if (!texts) {
    texts = new Array<string>(tok.vocabSize);
    for (let t = 0; t < tok.vocabSize; t++) texts[t] = tok.decode([t]);
    vocabularies.set(tok, texts);
  }
  return texts;
}
