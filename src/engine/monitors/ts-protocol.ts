// Messages between the engine and its TypeScript language-service worker (ts-worker.ts).

export interface TsFile {
  name: string; // workspace-relative, '/'-separated
  text: string;
}

export type TsRequest =
  /** The files the service sees are `names`: `files` holds the new or changed ones, a file not in
   *  `names` is dropped; unchanged files keep their version, so the next query re-checks incrementally. */
  | { type: 'files'; files: TsFile[]; names: string[] }
  /** The names valid at `pos` of `file` whose text is `text` (the document with generated text applied). */
  | { id: number; type: 'names'; file: string; text: string; pos: number; deadline: number }
  /** How much of `completion`, inserted between `prefix` and `suffix`, adds no parse error
   *  (syntax-check.ts syntaxSafeLength): the whole when clean, else a clean one of `cuts` (lengths
   *  at token boundaries), searched for at most `budgetMs`. */
  | { id: number; type: 'syntax'; file: string; prefix: string; suffix: string; completion: string; cuts: number[]; budgetMs: number }
  /** What the service holds now (the benchmarks: bench-ls). */
  | { id: number; type: 'stats' };

export interface NamesResult {
  names: string[];
  /** each name's kind as the service gives it (`method`, `property`, `parameter`, `class`, ...), parallel to `names` */
  kinds?: string[];
  /** at a call's argument: the name of the parameter it fills (signature help), when known */
  param?: string;
  /** at a call's argument: how many arguments its signatures take, fewest required (`min`) and most
   *  accepted (`max`, Infinity with a rest parameter), over all overloads (signature help) */
  arity?: { min: number; max: number };
  /** after `receiver.` where the code expects a type: the names whose type (or call result) fits it,
   *  when some typed names fit and some do not */
  fits?: string[];
  member: boolean;
  /** a position where a new name is declared: no constraint applies */
  newIdentifier: boolean;
  /** 'type' where the parser reads the cursor's identifier as a type (`x: T`, `Map<K, V>`, `type A = B`);
   *  absent in an expression or elsewhere (ts-position.ts) */
  position?: 'type';
  ms: number;
}

export type TsResponse =
  | { id: number; type: 'names'; result?: NamesResult; error?: string }
  | { id: number; type: 'syntax'; keep: number; tries: number; unresolved: boolean; ms: number; error?: string }
  | { type: 'ready'; ms: number; heapMb: number; files: number }
  /** `files`: the context files it was given; `programFiles`: the program's source files (those, the
   *  lib declarations and the warm-up file); `updateMs`: the last program update after a new file set */
  | { id: number; type: 'stats'; heapMb: number; files: number; programFiles: number; updateMs?: number };

export const TS_EXTENSIONS = /\.(ts|tsx|js|jsx|mts|cts|mjs|cjs)$/;
