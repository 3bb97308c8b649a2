// Shared by the integration tests (they run inside the real VS Code extension host).
import * as vscode from 'vscode';
import type { EngineClientState } from '../../src/engine-client';
import type { TokenButlerApi } from '../../src/extension/extension';

export const EXTENSION_ID = 'tokenbutler.tokenbutler-code';

export async function activateExtension(): Promise<{ extension: vscode.Extension<TokenButlerApi>; api: TokenButlerApi }> {
  const extension = vscode.extensions.getExtension<TokenButlerApi>(EXTENSION_ID);
  if (!extension) throw new Error(`extension ${EXTENSION_ID} is not installed`);
  const api = await extension.activate();
  return { extension, api };
}

/** Resolves with the first engine state that satisfies `pred` (the current one included). */
export function waitForEngineState(api: TokenButlerApi, pred: (s: EngineClientState) => boolean, ms: number): Promise<EngineClientState> {
  if (pred(api.engine.state)) return Promise.resolve(api.engine.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`engine state after ${ms} ms: ${JSON.stringify(api.engine.state)}`));
    }, ms);
    const sub = api.engine.onDidChangeState((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

/** 'ready', or a settled error ('error' / 'failed'): the engine answered one way or the other. */
export const settled = (s: EngineClientState) => s.kind === 'ready' || s.kind === 'error' || s.kind === 'failed';

export function workspaceFile(rel: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder open');
  return vscode.Uri.joinPath(folder.uri, rel);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
