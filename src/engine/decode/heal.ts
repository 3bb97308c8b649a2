// Token healing at the cursor. The prompt's last token is whatever the tokenizer made of the text
// before the cursor, and that is often a piece the model seldom saw followed by a separate token:
// after `ping ` the prompt ends in a lone space token, while in training the space came merged with
// the next word or operator (` =`, ` <`); the model then writes `queue = () => {`, which the syntax
// cut removes whole. Healing drops that last token from the prompt and makes the first generated
// token start with its text, so the model picks among the tokens it knows there (` =`, ` setTimeout`);
// the suggestion is what follows the healed text.
import type { Stream } from '../layout';

export interface Heal {
  /** the dropped token's text: the first generated token starts with it */
  text: string;
  /** tokens that start with `text` (the token itself among them) */
  allowed: Uint8Array;
  /** the prompt without the dropped token */
  ids: number[];
}

/** Per vocabulary: each healable text's mask (a handful of distinct texts occur: spacing, brackets, word ends). */
const masks = new WeakMap<readonly string[], Map<string, Uint8Array | null>>();
const MAX_MASKS = 256;

/** Tokens whose text starts with `text`, or null when no token but `text`'s own does (nothing to heal). */
export function healMask(tokenText: readonly string[], text: string): Uint8Array | null {
  let byText = masks.get(tokenText);
  if (!byText) masks.set(tokenText, (byText = new Map()));
  let mask = byText.get(text);
  if (mask === undefined) {
    const m = new Uint8Array(tokenText.length);
    let longer = 0;
    for (let t = 0; t < tokenText.length; t++) {
      if (!tokenText[t].startsWith(text)) continue;
      m[t] = 1;
      if (tokenText[t].length > text.length) longer++;
    }
    mask = longer ? m : null;
    if (byText.size >= MAX_MASKS) byText.delete(byText.keys().next().value as string);
    byText.set(text, mask);
  }
  return mask;
}

/** The heal for a prompt that ends in the current file's prefix (the suffix-first layout): the
 *  last token's text must be a proper prefix of other tokens, hold no line break (a line rule reads
 *  the text) and decode to whole characters. */
export function healFor(s: Stream, tokenText: readonly string[]): Heal | undefined {
  const last = s.ids.length - 1;
  if (last < s.prefixStart || s.fileOf[last] !== s.files.length - 1) return undefined;
  const text = tokenText[s.ids[last]];
  if (!text || text.includes('\n') || text.includes('\r') || text.includes('\uFFFD')) return undefined;
  const allowed = healMask(tokenText, text);
  return allowed ? { text, allowed, ids: s.ids.slice(0, last) } : undefined;
}

/** `decode` for the generated tokens of a healed prompt: their text without the healed part. */
export function healedDecode(decode: (ids: number[]) => string, heal: Heal | undefined): (ids: number[]) => string {
  if (!heal) return decode;
  return (ids) => {
    const t = decode(ids);
    return t.startsWith(heal.text) ? t.slice(heal.text.length) : t;
  };
}

/** The first token's allowed set: the monitors' (if any) within the heal's, else the heal's. */
export function healedAllowed(heal: Heal, allowed: Uint8Array | undefined): Uint8Array {
  if (!allowed) return heal.allowed;
  const both = new Uint8Array(allowed.length);
  let n = 0;
  for (let t = 0; t < both.length; t++) {
    if (!allowed[t] || !heal.allowed[t]) continue;
    both[t] = 1;
    n++;
  }
  return n ? both : heal.allowed;
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
