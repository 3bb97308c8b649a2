// Bracket discipline: a completion may close only what it opened or what the cursor line opened,
// must not close what the suffix already closes (auto-closed pairs), and, when its block ended,
// must not leave its own brackets open.
import { scanBrackets } from './scan';
import { CLOSERS, PAIR, linePrefixOf, restOfLine } from './text';

export interface BracketOptions {
  prefix: string;
  suffix: string;
  languageId?: string;
  /** The block ended (stopAtBlockEnd cut it): brackets the completion left open are trimmed away. */
  blockEnded?: boolean;
}

interface Open {
  ch: string;
  ours: boolean; // opened by the completion, not by the cursor line before the cursor
  provided: boolean; // the suffix already closes it
}

/** Leading closing brackets of the rest of the line, e.g. '));' → [')', ')']. */
export function providedClosers(suffix: string): string[] {
  return [.../^[\s)\]}]*/.exec(restOfLine(suffix))![0].replace(/\s/g, '')];
}

export function balanceBrackets(completion: string, o: BracketOptions): string {
  const linePrefix = linePrefixOf(o.prefix);
  const offset = linePrefix.length;
  const text = linePrefix + completion;
  const events = scanBrackets(text, o.languageId);
  const stack: Open[] = [];

  // Brackets the cursor line leaves open; the suffix's leading closers close the innermost ones.
  let e = 0;
  for (; e < events.length && events[e].index < offset; e++) {
    const { ch } = events[e];
    if (!CLOSERS.includes(ch)) stack.push({ ch, ours: false, provided: false });
    else if (stack.length && stack[stack.length - 1].ch === PAIR[ch]) stack.pop();
  }
  const provided = providedClosers(o.suffix);
  for (let k = 0; k < provided.length && k < stack.length; k++) {
    const open = stack[stack.length - 1 - k];
    if (open.ch !== PAIR[provided[k]]) break;
    open.provided = true;
  }

  let ours = 0;
  let lastBalancedLineEnd = 0; // end of the last completion line with none of our brackets open
  for (let i = offset; i <= text.length; i++) {
    if (i < text.length && text[i] !== '\n') continue;
    for (; e < events.length && events[e].index < i; e++) {
      const { ch, index } = events[e];
      if (!CLOSERS.includes(ch)) {
        stack.push({ ch, ours: true, provided: false });
        ours++;
        continue;
      }
      const top = stack[stack.length - 1];
      const at = index - offset;
      if (top?.provided && top.ch === PAIR[ch]) return completion.slice(0, at); // keep the line break before it
      if (!top || top.ch !== PAIR[ch]) return completion.slice(0, at).replace(/\s+$/, ''); // closes beyond the start
      stack.pop();
      if (top.ours) ours--;
    }
    if (ours === 0) lastBalancedLineEnd = i - offset;
  }
  if (o.blockEnded && ours > 0) return completion.slice(0, lastBalancedLineEnd).replace(/\s+$/, '');
  return completion;
}

/** How many brackets opened by the completion are still open at its end. */
export function openedAndUnclosed(completion: string, prefix: string, languageId?: string): number {
  const offset = linePrefixOf(prefix).length;
  const stack: boolean[] = []; // true = opened by the completion
  for (const { ch, index } of scanBrackets(linePrefixOf(prefix) + completion, languageId)) {
    if (!CLOSERS.includes(ch)) stack.push(index >= offset);
    else stack.pop();
  }
  return stack.filter(Boolean).length;
}

/**
 * When the cursor sits between a block opener and its auto-closed partner (`{█}`, `(█)`), a
 * multi-line completion must end with a line break (at the opener line's indentation) so the
 * partner lands on its own line: models usually stop before it, since the suffix has it.
 */
export function keepClosingBracketOnItsOwnLine(completion: string, prefix: string, suffix: string): string {
  const linePrefix = linePrefixOf(prefix);
  const provided = providedClosers(suffix)[0];
  const opener = linePrefix.trimEnd().slice(-1);
  if (!completion.includes('\n') || !provided || PAIR[provided] !== opener) return completion;
  const indent = /^[ \t]*/.exec(linePrefix)![0];
  return completion.replace(/(\r?\n[ \t]*)+$/, '') + '\n' + indent;
}
