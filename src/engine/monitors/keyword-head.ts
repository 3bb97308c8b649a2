// A grammar monitor for statement heads: in languages whose `if`, `while`, `for`, `switch` and
// `catch` take a parenthesised head, the token after the keyword must open it. The small model
// often writes an expression there (`if ` + `0 < dx) {`), which the syntax cut then drops whole.
import { inStringOrComment } from './triggers';

/** Languages whose statement heads are parenthesised (not Python, Go, Rust or Swift). */
const PAREN_HEADS = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs|java|c|h|cc|cpp|cxx|hpp|cs|php|kt|kts|dart|scala|groovy)$/i;
const KEYWORD_END = /(?:^|[^\w$.])(if|while|for|switch|catch)([ \t]*)$/;

export interface HeadRule {
  keyword: string;
  /** spacing already follows the keyword: the next token may not add more */
  spaced: boolean;
}

/** The rule at the end of `text` (the file before the cursor plus the completion so far). */
export function headRuleAt(file: string, text: string): HeadRule | undefined {
  if (!PAREN_HEADS.test(file)) return undefined;
  const m = KEYWORD_END.exec(text.slice(-64));
  if (!m || inStringOrComment(text)) return undefined;
  return { keyword: m[1], spaced: m[2].length > 0 };
}

/** Masks by vocabulary and rule: a rule has few forms, so each is built once per tokenizer. */
const masks = new WeakMap<readonly string[], Map<string, Uint8Array>>();

/** Tokens that open the head: `(` (with one space before it only where none is written yet);
 *  `for await (` and JavaScript's `catch {` (no binding) too. The mask is shared: read it only. */
export function headMask(rule: HeadRule, tokenText: readonly string[]): Uint8Array {
  const key = `${rule.keyword}${rule.spaced ? ' ' : ''}`;
  let byRule = masks.get(tokenText);
  if (!byRule) masks.set(tokenText, (byRule = new Map()));
  let allowed = byRule.get(key);
  if (!allowed) byRule.set(key, (allowed = buildMask(rule, tokenText)));
  return allowed;
}

function buildMask(rule: HeadRule, tokenText: readonly string[]): Uint8Array {
  const allowed = new Uint8Array(tokenText.length);
  const opens = rule.keyword === 'for' ? /^(\(|await\b)/ : rule.keyword === 'catch' ? /^[({]/ : /^\(/;
  for (let t = 0; t < tokenText.length; t++) {
    const piece = tokenText[t];
    const rest = rule.spaced ? piece : piece.replace(/^ /, '');
    if (rest && opens.test(rest)) allowed[t] = 1;
  }
  return allowed;
}
