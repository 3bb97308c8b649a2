// Whether to ask for a completion at all. Cheap checks that run before the debounce.

export interface CompletionTrigger {
  cursorCount: number; // selections in the editor (multi-cursor > 1)
  selectionEmpty: boolean;
  lineSuffix: string; // text right of the cursor on its line
  manual?: boolean; // explicitly invoked (keybinding): the user wants one even mid-line
}

export type NoCompletionReason = 'multiple-cursors' | 'selection' | 'mid-word' | 'text-after-cursor';

export const MAX_CHARS_RIGHT_OF_CURSOR = 8;

/** Why not to complete here, or undefined to go ahead. */
export function whyNotComplete(t: CompletionTrigger): NoCompletionReason | undefined {
  // Ghost text can show at one cursor only, and replacing a selection is not completing.
  if (t.cursorCount > 1) return 'multiple-cursors';
  if (!t.selectionEmpty) return 'selection';
  if (t.manual) return undefined;
  // Completing inside a word would split it (`fo|o` → `fo<ghost>o`).
  if (/^[\p{L}\p{N}_$]/u.test(t.lineSuffix)) return 'mid-word';
  // With a lot already written after the cursor, an insertion is rarely what is wanted.
  if (t.lineSuffix.replace(/\s/g, '').length > MAX_CHARS_RIGHT_OF_CURSOR) return 'text-after-cursor';
  return undefined;
}

export function shouldComplete(t: CompletionTrigger): boolean {
  return whyNotComplete(t) === undefined;
}
