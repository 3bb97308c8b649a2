// Typing as suggested: while the user types exactly what the ghost text shows, keep showing the
// rest of it without asking the model again (no flicker, no wasted compute).

export interface ShownSuggestion {
  documentKey: string;
  offset: number; // document offset where the suggestion was shown
  textBefore: string; // text before the cursor then (the whole prefix or a tail window of it)
  completion: string;
}

export class TypingAsSuggested {
  private shown?: ShownSuggestion;

  remember(s: ShownSuggestion): void {
    this.shown = s.completion ? { ...s } : undefined;
  }

  clear(): void {
    this.shown = undefined;
  }

  /**
   * The rest of the shown suggestion if the text typed since matches its start. A different
   * document, a cursor before the shown position, or typed text that differs invalidates it.
   * `textBefore` must be taken the same way as when remembering (whole prefix, or same-size tail).
   */
  lookup(documentKey: string, offset: number, textBefore: string): string | undefined {
    const s = this.shown;
    if (!s) return undefined;
    const typedLength = offset - s.offset;
    if (documentKey !== s.documentKey || typedLength < 0 || typedLength >= s.completion.length) {
      this.shown = undefined; // jumped away, or the whole suggestion was typed
      return undefined;
    }
    const typed = s.completion.slice(0, typedLength);
    if (!(s.textBefore + typed).endsWith(textBefore)) {
      this.shown = undefined; // typed something else
      return undefined;
    }
    return s.completion.slice(typedLength);
  }
}
