// The speed bench's peer: llama.cpp (through the npm package node-llama-cpp, a devDependency: the
// extension never loads it) running a GGUF of our own model folder, fed the same token ids and
// decoding greedily after the same cached contexts, one round at a time between our policies.
// The GGUF is written on demand by training/pipeline/export_gguf.py into training/work/gguf/
// (git-ignored); it is the closest plain llama model (see tbtrain/gguf_export.py: no prev-token
// projection, pointer heads, n-gram lookup or predictor). Anything that keeps the row from running
// (no node-llama-cpp, no prebuilt binary for this machine, no python/gguf) becomes the row's reason,
// and the bench goes on without it.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

export type GgufType = 'f16' | 'q8_0' | 'f32';
export const GGUF_TYPES: readonly GgufType[] = ['f16', 'q8_0', 'f32'];
/** What the GGUF lacks of our model (tbtrain/gguf_export.py GGUF_OMITS). */
export const GGUF_OMITS = 'prev-token projection, pointer heads + copy gate, n-gram lookup, TokenButler predictor';

export interface PeerOptions {
  root: string; // repository root (training/ and node_modules/ are found from it)
  modelDir: string;
  type: GgufType;
  threads: number;
  flashAttention: boolean;
  contextSize: number;
  log: (m: string) => void;
}

// The slice of node-llama-cpp's API used here (its own types need its ESM build).
interface Seq {
  readonly nextTokenIndex: number;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], o: { temperature: number }): AsyncGenerator<number, void>;
  eraseContextTokenRanges(r: { start: number; end: number }[]): Promise<void>;
}
interface Ctx {
  readonly currentThreads: number;
  readonly flashAttention: 'auto' | boolean;
  readonly kvCacheKeyType: number;
  readonly kvCacheValueType: number;
  getSequence(): Seq;
  dispose(): Promise<void>;
}
interface Lib {
  getLlama(o: { gpu: false; build: 'never'; logLevel: string; progressLogs: boolean }): Promise<{
    loadModel(o: { modelPath: string }): Promise<{ createContext(o: object): Promise<Ctx>; dispose(): Promise<void> }>;
    llamaCppRelease: { release: string };
    dispose(): Promise<void>;
  }>;
  GgmlType: Record<number, string>;
}

/** The GGUF of `modelDir` as `type`, exported when missing or older than the weights or exporter. */
export function ensureGguf(root: string, modelDir: string, type: GgufType, log: (m: string) => void): string {
  const out = path.join(root, 'training/work/gguf', `${path.basename(path.resolve(modelDir))}.${type}.gguf`);
  const script = path.join(root, 'training/pipeline/export_gguf.py');
  const inputs = [path.join(modelDir, 'lm.fp16.safetensors'), script, path.join(root, 'training/tbtrain/gguf_export.py')];
  if (!existsSync(inputs[0])) throw new Error(`${modelDir} has no lm.fp16.safetensors to export`);
  const stale = !existsSync(out) || inputs.some((f) => existsSync(f) && statSync(f).mtimeMs > statSync(out).mtimeMs);
  if (stale) {
    log(`llama.cpp peer: exporting ${path.relative(root, out)}`);
    try {
      execFileSync(process.env.PYTHON ?? 'python3', [script, '--model', modelDir, '--out', out, '--type', type], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1);
      throw new Error(`GGUF export failed (${err ?? (e as Error).message}); pip install -r training/requirements.txt`, { cause: e });
    }
  }
  return out;
}

export class LlamaPeer {
  private done = 0; // tokens of the bench's stream in the context

  private constructor(
    private readonly seq: Seq,
    private readonly ctx: Ctx,
    private readonly close: () => Promise<void>,
    /** threads, flash attention, KV types, model file: the row's settings */
    readonly settings: string,
  ) {}

  static async open(o: PeerOptions): Promise<LlamaPeer> {
    const entry = path.join(o.root, 'node_modules/node-llama-cpp/dist/index.js');
    if (!existsSync(entry)) throw new Error('node-llama-cpp is not installed (a devDependency: npm ci)');
    const gguf = ensureGguf(o.root, o.modelDir, o.type, o.log);
    // a real import() (the bundle is CommonJS; node-llama-cpp is ESM only)
    const lib = (await (new Function('u', 'return import(u)') as (u: string) => Promise<Lib>)(pathToFileURL(entry).href));
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
    const model = await llama.loadModel({ modelPath: gguf });
    const ctx = await model.createContext({
      contextSize: o.contextSize, batchSize: 512, flashAttention: o.flashAttention, threads: { ideal: o.threads, min: o.threads }, sequences: 1,
    });
    const kv = `${lib.GgmlType[ctx.kvCacheKeyType] ?? ctx.kvCacheKeyType}/${lib.GgmlType[ctx.kvCacheValueType] ?? ctx.kvCacheValueType}`.toLowerCase();
    const version = (JSON.parse(readFileSync(path.join(o.root, 'node_modules/node-llama-cpp/package.json'), 'utf8')) as { version: string }).version;
    const settings = `node-llama-cpp ${version} (llama.cpp ${llama.llamaCppRelease.release}) CPU, ${ctx.currentThreads} thread${ctx.currentThreads > 1 ? 's' : ''}, flash attention ${ctx.flashAttention ? 'on' : 'off'}, KV ${kv}, weights ${o.type} (${path.basename(gguf)})`;
    const close = async () => {
      await ctx.dispose();
      await model.dispose();
      await llama.dispose();
    };
    return new LlamaPeer(ctx.getSequence(), ctx, close, settings);
  }

  /** Makes the context hold ids[0..T) (the bench's contexts grow, so this only appends). */
  async extendTo(ids: number[], T: number): Promise<void> {
    await this.rewind(Math.min(this.done, T));
    if (T > this.done) await this.seq.evaluateWithoutGeneratingNewTokens(ids.slice(this.done, T));
    this.done = T;
  }

  /** Greedy decode of `steps` tokens after the first `done` cached ones, starting from `token`;
   *  ms per generated token (each one evaluation + sampling), then the context is cut back. */
  async decode(token: number, steps: number): Promise<number[]> {
    const times: number[] = [];
    let t = performance.now();
    for await (const _ of this.seq.evaluate([token], { temperature: 0 })) {
      const now = performance.now();
      times.push(now - t);
      t = now;
      if (times.length >= steps) break;
    }
    await this.rewind(this.done);
    return times;
  }

  private async rewind(to: number): Promise<void> {
    if (this.seq.nextTokenIndex > to) await this.seq.eraseContextTokenRanges([{ start: to, end: this.seq.nextTokenIndex }]);
  }

  dispose(): Promise<void> {
    return this.close();
  }

  get threads(): number {
    return this.ctx.currentThreads;
  }
}
