// Options and results of the context assembler (the shapes the extension and the CLI pass around).
import type { ContextPayload } from '../shared/protocol';

export interface OpenDocument {
  file: string; // workspace-relative
  text: string; // the editor's (possibly unsaved) content
}

export interface AssembleOptions {
  workspaceRoot: string;
  currentFile: string; // workspace-relative
  prefix: string; // current document text before the cursor (may be unsaved)
  suffix: string; // current document text after the cursor
  openFiles?: string[]; // open tabs, most recent first
  recentlyEdited?: string[]; // most recent first
  excludeGlobs?: string[]; // VS Code `files.exclude` patterns that are switched on
  maxContextTokens: number;
  estimateTokens?: (text: string) => number; // default: chars / 3
  trusted?: boolean; // default true; false → only openDocuments' content, nothing else read from disk
  openDocuments?: OpenDocument[]; // editor contents; override what is on disk
  previous?: string[]; // `files` of the previous assembly for this workspace
  /** Cap on the current file's prefix, in tokens. Default: half of maxContextTokens. */
  maxPrefixTokens?: number;
  /** Filesystem to read from (tests count calls through it). Default: node:fs/promises. */
  fs?: FileSystemLike;
}

export type SkipReason =
  | 'secret' // .env*, key/certificate files by name
  | 'private-key' // content contains a PEM private key block
  | 'gitignored'
  | 'excluded' // files.exclude
  | 'vendored' // node_modules, .git
  | 'generated' // lock files, source maps, *.min.*
  | 'binary' // NUL byte in the first 8 KB or invalid UTF-8
  | 'too-large' // over 1 MB
  | 'minified' // a line over 5,000 chars
  | 'unreadable' // missing, permission denied, not a regular file
  | 'outside-workspace' // path or symlink target outside the root
  | 'untrusted' // restricted mode: not open in an editor
  | 'budget'; // does not fit in maxContextTokens

export interface Skipped {
  file: string;
  reason: SkipReason;
}

export interface AssembleResult {
  payload: ContextPayload;
  files: string[]; // related files in placement order (the next call's `previous`)
  skipped: Skipped[];
  /** Document offset where payload.current.prefix starts (> 0 when the prefix was capped). */
  prefixStart: number;
  /** Estimated tokens of the whole payload. */
  estimatedTokens: number;
  /** Set when the current file itself must not be sent (e.g. it is a .env file): prefix and suffix are empty. */
  currentSkipped?: SkipReason;
}

/** The few fs calls the assembler makes; all async, all may reject. */
export interface FileSystemLike {
  stat(abs: string): Promise<{ size: number; mtimeMs: number; isFile(): boolean; isDirectory(): boolean }>;
  readFile(abs: string): Promise<Uint8Array>;
  realpath(abs: string): Promise<string>;
  readdir(abs: string): Promise<{ name: string; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }[]>;
}
