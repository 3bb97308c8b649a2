// What the newcomer benches share (main.ts: the first suggestion and the typing after it;
// rest.ts: the first suggestion after the cursor comes to rest).
import type { EngineConfig } from '../../shared/protocol';

/** The extension's default settings (settings.ts) with the model folder, the monitors and partialContext given. */
export function extensionDefaults(modelDir: string, monitors: boolean, partialContext: boolean): EngineConfig {
  return { modelDir, executionProvider: 'cpu', policy: 'tokenbutler', budget: 512, maxContextTokens: 16384, maxNewTokens: 64, prefill: 'sparse', predictionInterval: 1, monitors, partialContext };
}

/** `--name VALUE` from the command line, else `def`. */
export function opt(name: string, def: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The engine client's logger: warnings and errors on stderr, nothing else. */
export const quiet = { info: () => undefined, warn: (m: string) => process.stderr.write(`[warn] ${m}\n`), error: (m: string) => process.stderr.write(`[error] ${m}\n`) };

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

/** The end of the first line past `from` (a share of the file's length) that opens a block (`{` at its end). */
export function blockLineEnd(text: string, from: number): number {
  let at = text.indexOf('\n', Math.floor(text.length * from));
  while (at >= 0) {
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    if (/\{\s*$/.test(text.slice(lineStart, at))) return at;
    at = text.indexOf('\n', at + 1);
  }
  return Math.floor(text.length * from);
}
