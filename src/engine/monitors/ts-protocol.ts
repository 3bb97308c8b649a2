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
  /** The first offset in [from, to) of `text` where a parse error appears that `base` (the same
   *  document without the inserted [from, to)) does not have; -1 if none. */
  | { id: number; type: 'syntax'; file: string; text: string; from: number; to: number; base: string };

export interface NamesResult {
  names: string[];
  member: boolean;
  /** a position where a new name is declared: no constraint applies */
  newIdentifier: boolean;
  ms: number;
}

export type TsResponse =
  | { id: number; type: 'names'; result?: NamesResult; error?: string }
  | { id: number; type: 'syntax'; offset: number; ms: number; error?: string }
  | { type: 'ready'; ms: number; heapMb: number; files: number };

export const TS_EXTENSIONS = /\.(ts|tsx|js|jsx|mts|cts|mjs|cjs)$/;
