// Does a suggestion add a syntax error? The completion's first line is inserted at the cut and
// checked with the rule the engine cuts its suggestions by (src/engine/monitors/syntax-check.ts:
// TypeScript parser diagnostics near the insertion that the file without it does not have).
// `addedSameCode` keeps the stricter rule (an error of another code where the file had one counts
// as new), reported beside it.
import { SyntaxBase } from '../../engine/monitors/syntax-check';
import { firstLine } from './metrics';

const MAX_LISTED = 5;

export interface SyntaxCheck {
  added: boolean;
  /** the stricter rule: new unless the same code was at the same place */
  addedSameCode: boolean;
  newErrors: string[]; // "TS1005 ',' expected." etc., the first MAX_LISTED
}

/** `prefix` ends at the cut, `suffix` is what follows it in the document the engine was given. */
export function syntaxCheck(file: string, prefix: string, completion: string, suffix: string): SyntaxCheck {
  const r = new SyntaxBase(file, prefix, suffix).check(firstLine(completion));
  return { added: r.errors.length > 0, addedSameCode: r.strict, newErrors: r.errors.slice(0, MAX_LISTED).map((e) => `TS${e.code} ${e.message}`) };
}
