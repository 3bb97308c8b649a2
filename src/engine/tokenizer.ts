// Byte-level BPE tokenizer from the model folder's tokenizer.json (the same file Python trained),
// with char-offset bookkeeping so chosen tokens can be mapped back to file positions.
import { Tokenizer } from '@huggingface/tokenizers';

export const SPECIAL = { eot: 0, fimPrefix: 1, fimMiddle: 2, fimSuffix: 3, fileSep: 4 } as const;

/** Byte-level BPE maps each byte to one printable char; invert it to count a token's bytes. */
function tokenByteLengths(vocab: Map<string, number> | Record<string, number>, size: number, specials: Set<number>): Uint16Array {
  const out = new Uint16Array(size);
  const entries = vocab instanceof Map ? vocab.entries() : Object.entries(vocab);
  for (const [tok, id] of entries) if (id < size) out[id] = specials.has(id) ? 0 : [...tok].length;
  return out;
}

export interface Encoded {
  ids: number[];
  /** UTF-16 offset (into the encoded text) where each token starts; length ids.length + 1 (end sentinel). */
  offsets: number[];
}

export class BpeTokenizer {
  private readonly tok: Tokenizer;
  private readonly byteLen: Uint16Array;
  private readonly specialStrings: string[];
  /** the distinct first two chars of the special strings: a text without any of them has none */
  private readonly specialHeads: string[];
  readonly vocabSize: number;

  constructor(json: { model: { vocab: Record<string, number> }; added_tokens?: { id: number; content: string; special?: boolean }[] }) {
    this.tok = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    const added = json.added_tokens ?? [];
    this.vocabSize = Math.max(Object.keys(json.model.vocab).length, ...added.map((t) => t.id + 1));
    const specials = new Set(added.map((t) => t.id));
    this.byteLen = tokenByteLengths(json.model.vocab, this.vocabSize, specials);
    // special added tokens only (a tokenizer may add plain ones, e.g. runs of spaces, that code should use)
    this.specialStrings = added.filter((t) => t.special !== false && t.content.length > 1).map((t) => t.content);
    this.specialHeads = [...new Set(this.specialStrings.map((c) => c.slice(0, 2)))];
  }

  /** Encodes user text. Special-token strings that appear literally in code are encoded as plain
   *  text (split after their first char so the added-token matcher cannot see them). */
  encode(text: string): Encoded {
    const ids: number[] = [];
    const offsets: number[] = [];
    let start = 0;
    for (const cut of this.literalSpecialCuts(text)) {
      this.encodePlain(text.slice(start, cut), start, ids, offsets);
      start = cut;
    }
    this.encodePlain(text.slice(start), start, ids, offsets);
    offsets.push(text.length);
    return { ids, offsets };
  }

  decode(ids: number[]): string {
    return ids.length ? this.tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : '';
  }

  byteLength(id: number): number {
    return this.byteLen[id] ?? 0;
  }

  private literalSpecialCuts(text: string): number[] {
    if (!this.specialHeads.some((h) => text.includes(h))) return [];
    const cuts: number[] = [];
    for (const s of this.specialStrings) {
      for (let i = text.indexOf(s); i >= 0; i = text.indexOf(s, i + 1)) cuts.push(i + 1);
    }
    return cuts.sort((a, b) => a - b);
  }

  private encodePlain(piece: string, base: number, ids: number[], offsets: number[]): void {
    if (!piece) return;
    const enc = this.tok.encode(piece, { add_special_tokens: false });
    // token byte lengths -> UTF-16 offsets (a multi-byte char belongs to the token where it starts)
    const bytes = Buffer.from(piece, 'utf8');
    const byteToChar = new Int32Array(bytes.length + 1);
    let b = 0;
    for (let c = 0; c < piece.length; ) {
      const cp = piece.codePointAt(c)!;
      const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let k = 0; k < n; k++) byteToChar[b + k] = c;
      b += n;
      c += cp > 0xffff ? 2 : 1;
    }
    byteToChar[bytes.length] = piece.length;
    let at = 0;
    for (const id of enc.ids) {
      ids.push(id);
      offsets.push(base + byteToChar[Math.min(at, bytes.length)]);
      at += this.byteLen[id];
    }
  }
}
