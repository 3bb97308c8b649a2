// Whether the cursor's identifier stands in a type. The monitors' names at an identifier start are
// the values in scope, ranked as values: in a type they are the wrong kind of name.
import * as ts from 'typescript';

/** The innermost node of `sf` whose span holds `pos`, the first of siblings that do (the one that
 *  ends at `pos`: the expression before the cursor, whose missing name ends there too). */
export function innermostAt(sf: ts.SourceFile, pos: number): ts.Node {
  let found: ts.Node = sf;
  const visit = (n: ts.Node): boolean => {
    if (n.pos > pos || pos > n.end || n.kind === ts.SyntaxKind.EndOfFileToken) return false;
    found = n;
    ts.forEachChild(n, visit);
    return true; // no later sibling
  };
  ts.forEachChild(sf, visit);
  return found;
}

/** NamesResult.position: 'type' where the identifier at `cursor` is (part of) a type, read from the
 *  parse tree alone (an identifier not yet written is the one the parser takes from the text after
 *  the cursor, or a missing one: either way it sits where the cursor's identifier goes). */
export function positionOf(sf: ts.SourceFile, cursor: number): 'type' | undefined {
  // from the end of the token before the spacing: a missing node (nothing after the cursor but
  // spacing) is an empty span there
  let pos = cursor;
  while (pos > 0 && (sf.text[pos - 1] === ' ' || sf.text[pos - 1] === '\t')) pos--;
  const at = innermostAt(sf, pos);
  // an empty slot of a parameter list or of a type's members (`(a, ) => T`, `{ k: T; }`) takes a name
  const inList = (list: ts.NodeArray<ts.Node>) => list.pos <= pos && (pos <= list.end || sf.text.slice(list.end, pos).trim() === '');
  if ((ts.isFunctionLike(at) && inList(at.parameters)) || (ts.isTypeLiteralNode(at) && inList(at.members))) return undefined;
  let from: ts.Node | undefined;
  for (let n: ts.Node | undefined = at; n && !ts.isSourceFile(n); from = n, n = n.parent) {
    // `typeof x` and `import('m')` in a type name values; `extends Base` in a class is an expression
    if (ts.isTypeQueryNode(n) || ts.isImportTypeNode(n) || ts.isExpressionWithTypeArguments(n)) return undefined;
    // the name of a parameter or a member inside a type (`(v: T) => U`, `{ k: T }`) is no type
    if ((ts.isParameter(n) || ts.isPropertySignature(n) || ts.isMethodSignature(n)) && from !== undefined && n.name === from) return undefined;
    if (ts.isTypeNode(n)) return 'type';
    if (ts.isStatement(n) || ts.isBlock(n) || (ts.isExpression(n) && !ts.isIdentifier(n))) return undefined;
  }
  return undefined;
}
