// Typed view of the `tokenbutler.*` settings (declared in package.json → contributes.configuration).
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineConfig, ExecutionProvider, Policy, PrefillMode } from '../shared/protocol';
import { DEFAULT_PREDICTION_INTERVAL } from '../shared/protocol';
import { LIMITS } from '../shared/protocol-guards';
import { CONTEXTUAL_MODES, DEFAULT_CONTEXTUAL_KEEP, type ContextualMode } from '../shared/contextual';

export const SECTION = 'tokenbutler';

export interface Settings {
  enable: boolean;
  /** language id → enabled; "*" is the fallback for languages not listed. */
  enabledLanguages: Record<string, boolean>;
  /** "" = the bundled model (models/default inside the extension). */
  modelPath: string;
  executionProvider: ExecutionProvider;
  policy: Policy;
  budget: number;
  maxContextTokens: number;
  maxNewTokens: number;
  prefill: PrefillMode;
  predictionInterval: number;
  /** monitor-guided decoding: names from the language service / the editor, the context prior */
  monitors: boolean;
  /** 0 = adaptive. */
  debounceMs: number;
  /** ShadowLLM contextual sparsity of decode steps (src/shared/contextual.ts) */
  contextualSparsity: ContextualMode;
  contextualKeep: number;
}

const POLICIES: readonly Policy[] = ['tokenbutler', 'dense', 'window'];
const PROVIDERS: readonly ExecutionProvider[] = ['auto', 'cpu', 'cuda', 'webgpu'];
const PREFILL_MODES: readonly PrefillMode[] = ['sparse', 'dense'];
export const DEFAULT_PREFILL: PrefillMode = 'sparse';

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function int(value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? Math.floor(value) : fallback;
  return Math.min(max, Math.max(min, n));
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const languages = c.get<unknown>('enabledLanguages');
  return {
    enable: c.get<boolean>('enable', true) !== false,
    enabledLanguages:
      languages && typeof languages === 'object' ? (languages as Record<string, boolean>) : { '*': true, plaintext: false, markdown: false },
    modelPath: c.get<string>('modelPath', '') ?? '',
    executionProvider: oneOf(c.get('executionProvider'), PROVIDERS, 'auto'),
    policy: oneOf(c.get('policy'), POLICIES, 'tokenbutler'),
    // Within the engine protocol's bounds (LIMITS), so a typo cannot ask for gigabytes of cache.
    budget: int(c.get('budget'), 512, 16, LIMITS.budget.max),
    maxContextTokens: int(c.get('maxContextTokens'), 16384, LIMITS.maxContextTokens.min, LIMITS.maxContextTokens.max),
    maxNewTokens: int(c.get('maxNewTokens'), 64, LIMITS.maxNewTokens.min, LIMITS.maxNewTokens.max),
    debounceMs: int(c.get('debounceMs'), 0, 0),
    prefill: oneOf(c.get('prefill'), PREFILL_MODES, DEFAULT_PREFILL),
    predictionInterval: int(c.get('predictionInterval'), DEFAULT_PREDICTION_INTERVAL, 1, 16),
    monitors: c.get<boolean>('monitors', true) !== false,
    contextualSparsity: oneOf(c.get('contextualSparsity'), CONTEXTUAL_MODES, 'off'),
    contextualKeep: share(c.get('contextualSparsityKeep'), DEFAULT_CONTEXTUAL_KEEP, 0.05),
  };
}

/** A number in [min, 1]; anything else is the fallback. */
function share(value: unknown, fallback: number, min: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(1, Math.max(min, value)) : fallback;
}

export function isLanguageEnabled(settings: Settings, languageId: string): boolean {
  const own = settings.enabledLanguages[languageId];
  if (typeof own === 'boolean') return own;
  return settings.enabledLanguages['*'] !== false;
}

/** The model directory: the setting (with ~ and workspace-relative paths resolved) or the bundled model. */
export function resolveModelDir(settings: Settings, extensionPath: string): string {
  const p = settings.modelPath.trim();
  if (!p) return path.join(extensionPath, 'models', 'default');
  const expanded = p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
  if (path.isAbsolute(expanded)) return expanded;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return path.resolve(folder ?? extensionPath, expanded);
}

export function engineConfig(settings: Settings, extensionPath: string): EngineConfig {
  return {
    modelDir: resolveModelDir(settings, extensionPath),
    executionProvider: settings.executionProvider,
    policy: settings.policy,
    budget: settings.budget,
    maxContextTokens: settings.maxContextTokens,
    maxNewTokens: settings.maxNewTokens,
    prefill: settings.prefill,
    predictionInterval: settings.predictionInterval,
    monitors: settings.monitors,
    contextualSparsity: settings.contextualSparsity,
    contextualKeep: settings.contextualKeep,
    // the first suggestion in a new file comes at once from a window of the file; the focus warmup reads the rest
    partialContext: true,
  };
}

export function sameEngineConfig(a: EngineConfig, b: EngineConfig): boolean {
  return (Object.keys(a) as (keyof EngineConfig)[]).every((k) => a[k] === b[k]);
}

/** Calls `listener` with fresh settings whenever anything under `tokenbutler.*` changes. */
export function onDidChangeSettings(listener: (settings: Settings) => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(SECTION)) listener(readSettings());
  });
}
