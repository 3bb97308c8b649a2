// Public surface of the context assembler (shared by the extension and the CLI; no vscode import).
export { assembleContext } from './assemble';
export { lineColToOffset, offsetToLineCol, splitAtPosition, type LineCol } from './positions';
export { GitignoreCache } from './gitignore';
export type { AssembleOptions, AssembleResult, OpenDocument, Skipped, SkipReason, FileSystemLike } from './types';
