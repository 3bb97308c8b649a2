// Golden cases: a document with the cursor marked █, the raw model output, and the ghost text we
// must show. Each case names the behaviour it pins down.
import { describe, expect, it } from 'vitest';
import { postprocess } from '../../../src/postprocess';

interface Case {
  name: string;
  doc: string;
  completion: string;
  expected: string;
  multiline?: boolean;
  languageId?: string;
}

const CASES: Case[] = [
  {
    name: 'single-line mode cuts at the first newline',
    doc: 'async function show(id: string) {\n  const user = await █\n}',
    completion: 'fetchUser(id);\n  console.log(user);',
    expected: 'fetchUser(id);',
  },
  {
    name: 'whitespace-only output is dropped',
    doc: 'function f() {\n  █\n}',
    completion: '   \n\t\n',
    expected: '',
    multiline: true,
  },
  {
    name: 'CRLF output in single-line mode',
    doc: 'const a = █',
    completion: 'foo();\r\nbar();',
    expected: 'foo();',
  },
  {
    name: 'function body between auto-closed braces keeps the line break before the suffix brace',
    doc: 'function add(a: number, b: number): number {█}\n',
    completion: '\n  return a + b;\n}',
    expected: '\n  return a + b;\n',
    multiline: true,
  },
  {
    name: 'body after Enter between braces stops before the outer closing brace',
    doc: 'function add(a, b) {\n  █\n}\n',
    completion: 'return a + b;\n}\n\nfunction sub(a, b) {',
    expected: 'return a + b;',
    multiline: true,
  },
  {
    name: 'method body stops when indentation falls below the block',
    doc: 'class Point {\n  move(dx: number) {\n    █\n  }\n}',
    completion: 'this.x += dx;\n    this.moved = true;\n  }\n\n  reset() {}',
    expected: 'this.x += dx;\n    this.moved = true;',
    multiline: true,
  },
  {
    name: 'a block opened on the cursor line ends at its closing brace',
    doc: 'if (ready) {█\n\nconsole.log("done");',
    completion: '\n  start();\n}\nconsole.log("done");\nprocess.exit(0);',
    expected: '\n  start();\n}',
    multiline: true,
  },
  {
    name: 'rest of the line is not repeated',
    doc: 'const name = user.█;\n',
    completion: 'firstName;',
    expected: 'firstName',
  },
  {
    name: 'an auto-closed parenthesis is not emitted again',
    doc: 'console.log(█)\n',
    completion: '"total", total);',
    expected: '"total", total',
  },
  {
    name: 'two auto-closed parentheses',
    doc: 'expect(sum(█))',
    completion: '1, 2)).toBe(3);',
    expected: '1, 2',
  },
  {
    name: 'a bracket the completion opened is kept even if the line ends the same way',
    doc: 'wrap(█)',
    completion: 'inner()',
    expected: 'inner()',
  },
  {
    name: 'a closing brace of an outer block is cut in single-line mode',
    doc: 'const o = {\n  a: █\n};',
    completion: '1 }',
    expected: '1',
  },
  {
    name: 'lines that duplicate the next line of the document are dropped',
    doc: 'const a = 1;\n█\nconst c = 3;',
    completion: 'const b = 2;\nconst c = 3;',
    expected: 'const b = 2;',
    multiline: true,
  },
  {
    name: 'a completion that only repeats the next line is dropped',
    doc: 'import x from "x";\n█\nexport default x;',
    completion: 'export default x;',
    expected: '',
    multiline: true,
  },
  {
    name: 'spaces from the model become tabs in a tab-indented file',
    doc: '\tfunction f() {\n\t\t█\n\t}',
    completion: 'const a = 1;\n        return a;',
    expected: 'const a = 1;\n\t\treturn a;',
    multiline: true,
  },
  {
    name: 'tabs from the model become the file’s two spaces',
    doc: 'function f(x: number) {\n  const y = x * 2;\n  █\n}',
    completion: 'if (x) {\n\t\treturn 1;\n\t}',
    expected: 'if (x) {\n    return 1;\n  }',
    multiline: true,
  },
  {
    name: 'two-space model output in a tab file keeps its levels',
    doc: 'class A {\n\tm() {\n\t\t█\n\t}\n}',
    completion: 'if (a) {\n      b();\n    }',
    expected: 'if (a) {\n\t\t\tb();\n\t\t}',
    multiline: true,
  },
  {
    name: 'trailing whitespace-only lines are stripped',
    doc: 'const xs = [1, 2, 3];\nconst ys = █',
    completion: 'xs.map((x) => x * 2);\n\n   \n',
    expected: 'xs.map((x) => x * 2);',
    multiline: true,
  },
  {
    name: 'python: a new def at lower indentation ends the body',
    doc: 'def area(r):\n    █\n\nprint(area(2))',
    completion: 'return 3.14 * r * r\n\ndef perimeter(r):\n    return 2 * 3.14 * r',
    expected: 'return 3.14 * r * r',
    multiline: true,
    languageId: 'python',
  },
  {
    name: 'python: else continues the if block, the next statement ends it',
    doc: 'if x > 0:█',
    completion: '\n    sign = 1\nelse:\n    sign = -1\nprint(sign)',
    expected: '\n    sign = 1\nelse:\n    sign = -1',
    multiline: true,
    languageId: 'python',
  },
  {
    name: 'when the block ends, brackets the completion left open are trimmed away',
    doc: 'function run() {\n  █\n}',
    completion: 'const items = load();\n  items.forEach((item) => {\n    process(item);\n}',
    expected: 'const items = load();',
    multiline: true,
  },
  {
    name: 'JSDoc: the existing closing line is not repeated',
    doc: '/**\n * Adds two numbers.\n * █\n */\nfunction add(a, b) {}',
    completion: '@param a first\n * @param b second\n */',
    expected: '@param a first\n * @param b second',
    multiline: true,
  },
  {
    name: 'object literal between auto-closed braces',
    doc: 'const config = {█};',
    completion: '\n  port: 8080,\n  host: "localhost",\n};',
    expected: '\n  port: 8080,\n  host: "localhost",\n',
    multiline: true,
  },
  {
    name: 'array literal with an auto-closed bracket and semicolon',
    doc: 'const primes = [█];',
    completion: '2, 3, 5, 7];',
    expected: '2, 3, 5, 7',
  },
  {
    name: 'string literal: the closing quote and semicolon are already there',
    doc: "const greeting = '█';",
    completion: "Hello, world';",
    expected: 'Hello, world',
  },
  {
    name: 'brackets inside strings do not count',
    doc: 'log(█)',
    completion: '"a) b", x);',
    expected: '"a) b", x',
  },
  {
    name: 'JSX inside return ( ... ) stops at the closing paren line',
    doc: 'export function App() {\n  return (\n    █\n  );\n}',
    completion: '<div className="app">\n      <Header />\n    </div>\n  );\n}',
    expected: '<div className="app">\n      <Header />\n    </div>',
    multiline: true,
    languageId: 'typescriptreact',
  },
  {
    name: 'switch: the next case at lower indentation ends the completion',
    doc: 'switch (kind) {\n  case "a":\n    █\n}',
    completion: 'return 1;\n  case "b":\n    return 2;\n}',
    expected: 'return 1;',
    multiline: true,
  },
  {
    name: 'a completion equal to the rest of the line becomes empty',
    doc: 'const sum = █a + b;',
    completion: 'a + b;',
    expected: '',
  },
  {
    name: 'statement then the function’s closing brace and the next call',
    doc: 'async function main() {\n  const data = await load();\n  █\n}\n\nmain();',
    completion: 'console.log(data);\n}\n\nmain();',
    expected: 'console.log(data);',
    multiline: true,
  },
  {
    name: 'if/else chain on the cursor line block continues past "} else {"',
    doc: 'if (a) {█',
    completion: '\n  one();\n} else {\n  two();\n}\nthree();',
    expected: '\n  one();\n} else {\n  two();\n}',
    multiline: true,
  },
  {
    name: 'sibling statements at the cursor line indentation are kept',
    doc: 'function setup() {\n  █\n}',
    completion: 'const app = express();\n  app.use(cors());\n  app.listen(3000);',
    expected: 'const app = express();\n  app.use(cors());\n  app.listen(3000);',
    multiline: true,
  },
  {
    name: 'single-line: a call continued on the cursor line keeps its own closing paren',
    doc: 'const total = █',
    completion: 'items.reduce((sum, i) => sum + i.price, 0);',
    expected: 'items.reduce((sum, i) => sum + i.price, 0);',
  },
  {
    name: 'trailing spaces are dropped at the end of the line',
    doc: 'let x = █',
    completion: '42;   ',
    expected: '42;',
  },
  {
    name: 'multi-line call arguments end at the line that closes the cursor line’s paren',
    doc: 'const server = createServer(█',
    completion: '\n  handler,\n  { port: 8080 },\n);\nserver.start();',
    expected: '\n  handler,\n  { port: 8080 },\n);',
    multiline: true,
  },
  {
    name: 'a body without the closing brace still leaves the auto-closed brace on its own line',
    doc: 'function add(a: number, b: number): number {█}\n',
    completion: '\n  return a + b;',
    expected: '\n  return a + b;\n',
    multiline: true,
  },
  {
    name: 'blank lines before an auto-closed paren collapse to one line break at the call’s indentation',
    doc: '  await Promise.all([█]);',
    completion: '\n    loadUsers(),\n    loadPosts(),\n\n\n',
    expected: '\n    loadUsers(),\n    loadPosts(),\n  ',
    multiline: true,
  },
  {
    name: 'trailing blank lines go before the rest of the line too',
    doc: 'const p = █;',
    completion: 'build(1)\n\n',
    expected: 'build(1)',
    multiline: true,
  },
];

describe('postprocess golden cases', () => {
  it('has at least 25 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(25));
  it.each(CASES)('$name', (c) => {
    const at = c.doc.indexOf('█');
    const prefix = c.doc.slice(0, at);
    const suffix = c.doc.slice(at + 1);
    expect(postprocess(c.completion, { prefix, suffix, multiline: c.multiline ?? false, languageId: c.languageId ?? 'typescript' })).toBe(c.expected);
  });
});
