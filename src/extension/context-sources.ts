// Editor state → context assembler inputs: the workspace folder a document belongs to, open tabs,
// recently edited files, `files.exclude`, workspace trust and unsaved editor contents. It also
// keeps each workspace's previous placement order (`previous`) so the engine's cached prefix
// survives from one completion to the next.
//
// Only `file:` documents inside a workspace folder get repository context. Other documents
// (untitled, notebook cells, a loose file outside any folder) are completed from their own text
// only: the assembler then runs untrusted with a filesystem that reads nothing.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { assembleContext, type AssembleResult, type FileSystemLike, type OpenDocument } from '../context';
import { CachedFs } from '../context/cached-fs';
import { nodeFs } from '../context/node-fs';
import { normalizeRel } from '../context/paths';
import { MruList } from '../context/mru-list';
import type { SpanOrigin } from '../chosen-context';

/** One assembly, with what is needed to map the engine's chosen spans back to documents. */
export interface AssembledContext extends AssembleResult {
  /** Folder the related files are relative to; undefined in current-only mode. */
  folder: vscode.Uri | undefined;
  /** The document the context was assembled for. */
  document: vscode.Uri;
  documentVersion: number;
  /** The document's text at assembly time (chosen spans in the current file refer to it). */
  documentText: string;
  origin: SpanOrigin;
}

const TRACKED = 64;

/** A filesystem that has nothing: current-only assemblies must not read the disk. */
const NO_FS: FileSystemLike = {
  stat: () => Promise.reject(new Error('no filesystem')),
  readFile: () => Promise.reject(new Error('no filesystem')),
  realpath: () => Promise.reject(new Error('no filesystem')),
  readdir: () => Promise.reject(new Error('no filesystem')),
};

export class ContextSources implements vscode.Disposable {
  private readonly edited = new MruList<string>(TRACKED); // fsPaths, most recently edited first
  private readonly visited = new MruList<string>(TRACKED); // fsPaths, most recently focused first
  private readonly previous = new Map<string, string[]>(); // folder uri → last placement order
  private readonly excludes = new Map<string, string[]>(); // folder uri → enabled files.exclude globs
  /** The assembler's reads, reused across assemblies (the focus warmup's, then each completion's)
   *  until the file watcher reports a change under them (cached-fs.ts). */
  private readonly fs = new CachedFs(nodeFs);
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === 'file') this.visited.touch(active.fsPath);
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    const forget = (uri: vscode.Uri) => uri.scheme === 'file' && this.fs.forget(uri.fsPath);
    this.subscriptions = [
      watcher,
      watcher.onDidChange(forget),
      watcher.onDidCreate(forget),
      watcher.onDidDelete(forget),
      vscode.workspace.onDidSaveTextDocument((d) => forget(d.uri)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.scheme === 'file' && e.contentChanges.length > 0) this.edited.touch(e.document.uri.fsPath);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor?.document.uri.scheme === 'file') this.visited.touch(editor.document.uri.fsPath);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('files.exclude')) this.excludes.clear();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.previous.clear();
        this.excludes.clear();
        this.fs.clear();
      }),
    ];
  }

  /**
   * Assembles the context for `document` with the text in [start, end) left out: start === end
   * for a completion at a cursor, the selection for Explain. Never throws for ordinary input.
   */
  async assemble(document: vscode.TextDocument, start: number, end: number, maxContextTokens: number): Promise<AssembledContext> {
    const text = document.getText();
    const prefix = text.slice(0, start);
    const suffix = text.slice(end);
    const version = document.version;
    const folder = document.uri.scheme === 'file' ? vscode.workspace.getWorkspaceFolder(document.uri) : undefined;

    let result: AssembleResult;
    if (folder) {
      const root = folder.uri.fsPath;
      const key = folder.uri.toString();
      const trusted = vscode.workspace.isTrusted;
      result = await assembleContext({
        workspaceRoot: root,
        currentFile: relativeTo(root, document.uri.fsPath),
        prefix,
        suffix,
        openFiles: this.openFiles(root, document.uri.fsPath),
        recentlyEdited: this.edited.items().filter((p) => p !== document.uri.fsPath && isUnder(root, p)),
        excludeGlobs: this.excludeGlobs(folder),
        maxContextTokens,
        trusted,
        openDocuments: openDocuments(root, document, trusted),
        previous: this.previous.get(key),
        fs: this.fs,
      });
      this.previous.set(key, result.files);
    } else {
      result = await assembleContext({
        workspaceRoot: os.tmpdir(),
        currentFile: currentOnlyName(document),
        prefix,
        suffix,
        maxContextTokens,
        trusted: false,
        fs: NO_FS,
      });
    }
    return {
      ...result,
      folder: folder?.uri,
      document: document.uri,
      documentVersion: version,
      documentText: text,
      origin: {
        currentFile: result.payload.current.file,
        prefixStart: result.prefixStart,
        prefixLength: result.payload.current.prefix.length,
        gap: end - start,
      },
    };
  }

  /** Open tabs inside the folder: most recently focused first, then the rest in tab order. */
  private openFiles(root: string, current: string): string[] {
    const inTabs: string[] = [];
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        const uri = tab.input instanceof vscode.TabInputText ? tab.input.uri : undefined;
        if (uri?.scheme === 'file' && uri.fsPath !== current && isUnder(root, uri.fsPath)) inTabs.push(uri.fsPath);
      }
    }
    const open = new Set(inTabs);
    const ordered = this.visited.items().filter((p) => open.has(p));
    for (const p of inTabs) if (!ordered.includes(p)) ordered.push(p);
    return ordered;
  }

  /** `files.exclude` patterns that are switched on (conditional `when` entries are not evaluated). */
  private excludeGlobs(folder: vscode.WorkspaceFolder): string[] {
    const key = folder.uri.toString();
    let globs = this.excludes.get(key);
    if (!globs) {
      const value = vscode.workspace.getConfiguration('files', folder.uri).get<Record<string, unknown>>('exclude') ?? {};
      globs = enabledGlobs(value);
      this.excludes.set(key, globs);
    }
    return globs;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}

function enabledGlobs(exclude: Record<string, unknown>): string[] {
  return Object.entries(exclude)
    .filter(([, on]) => on === true)
    .map(([glob]) => glob);
}

/**
 * Editor contents that override the disk: unsaved documents inside the folder. In restricted
 * mode the assembler reads nothing from disk, so every open tab's content is passed instead
 * (the user opened those files; nothing else is read).
 */
function openDocuments(root: string, current: vscode.TextDocument, trusted: boolean): OpenDocument[] {
  const inTabs = trusted ? undefined : tabPaths();
  const docs: OpenDocument[] = [];
  for (const d of vscode.workspace.textDocuments) {
    if (d === current || d.uri.scheme !== 'file' || !isUnder(root, d.uri.fsPath)) continue;
    if (d.isDirty || inTabs?.has(d.uri.fsPath)) docs.push({ file: relativeTo(root, d.uri.fsPath), text: d.getText() });
  }
  return docs;
}

function tabPaths(): Set<string> {
  const out = new Set<string>();
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (tab.input instanceof vscode.TabInputText && tab.input.uri.scheme === 'file') out.add(tab.input.uri.fsPath);
    }
  }
  return out;
}

function currentOnlyName(document: vscode.TextDocument): string {
  const base = path.posix.basename(document.uri.path) || 'untitled';
  return base.replace(/[^\w.-]/g, '_');
}

function relativeTo(root: string, fsPath: string): string {
  return normalizeRel(fsPath, root) ?? path.basename(fsPath);
}

function isUnder(root: string, fsPath: string): boolean {
  return normalizeRel(fsPath, root) !== undefined;
}
