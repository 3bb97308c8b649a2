// Does a suggestion add a syntax error? The file is parsed (syntax only: the TypeScript
// parser's diagnostics, no type check) with the completion's first line inserted at the cut and
// without it; an error is new when the version with the insertion has it near the insertion —
// from the start of the cut line to the end of the line after it — and the version without it
// has no error at the same place (offsets after the insertion shifted back). A line cut inside a
// call is broken already: a completion that leaves the call open changes the message there
// (`')' expected` becomes `',' expected`) but adds no error. `sameCode` keeps the stricter rule
// (an error of another code at the same place counts as new), reported beside it.
import ts from 'typescript';
import { firstLine } from './metrics';
import { scriptKindOf } from './positions';

const MAX_LISTED = 5;

export interface SyntaxCheck {
  added: boolean;
  /** the stricter rule: new unless the same code was at the same place */
  addedSameCode: boolean;
  newErrors: string[]; // "TS1005 ',' expected." etc., the first MAX_LISTED
}

function parseErrors(file: string, text: string): ts.Diagnostic[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, scriptKindOf(file));
  return (sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
}

/** `prefix` ends at the cut, `suffix` is what follows it in the document the engine was given. */
export function syntaxCheck(file: string, prefix: string, completion: string, suffix: string): SyntaxCheck {
  const ins = firstLine(completion);
  const cut = prefix.length;
  const from = prefix.lastIndexOf('\n') + 1;
  // the window ends at the end of the line after the cut line (suffix starts with the cut line's '\n')
  const nl1 = suffix.indexOf('\n');
  const nl2 = nl1 < 0 ? -1 : suffix.indexOf('\n', nl1 + 1);
  const to = cut + (nl2 < 0 ? suffix.length : nl2);
  const inWindow = (p: number) => p >= from && p <= to;
  const key = (d: ts.Diagnostic, p: number) => `${d.code}@${p}`;
  const before = new Set<string>();
  const beforeAt = new Set<number>();
  for (const d of parseErrors(file, prefix + suffix)) {
    if (d.start === undefined || !inWindow(d.start)) continue;
    before.add(key(d, d.start));
    beforeAt.add(d.start);
  }
  const newErrors: string[] = [];
  let sameCode = false;
  for (const d of parseErrors(file, prefix + ins + suffix)) {
    if (d.start === undefined) continue;
    const p = d.start < cut ? d.start : d.start < cut + ins.length ? cut : d.start - ins.length;
    if (!inWindow(p) || before.has(key(d, p))) continue;
    sameCode = true;
    // inside the insertion every error is the completion's; after it, one where the file had one is not
    if (d.start >= cut + ins.length && beforeAt.has(p)) continue;
    newErrors.push(`TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  }
  return { added: newErrors.length > 0, addedSameCode: sameCode, newErrors: newErrors.slice(0, MAX_LISTED) };
}
