// Helpers for the hardening integration tests (they run inside the real VS Code extension host).
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';
import * as path from 'node:path';
import * as vscode from 'vscode';

/**
 * Event-loop stall monitor for the extension host.
 * - A 5 ms interval timer: its lateness is a stall, whatever caused it (`maxGapMs`).
 * - The machine is shared (2 cores, a training job), so a late timer often just means the OS ran
 *   someone else, and other extensions (TypeScript's buffer sync of a 10 MB file, file watchers)
 *   run on the same thread. To see what *we* cost, V8's sampling profiler runs meanwhile: the
 *   samples form busy stretches (between idle samples, i.e. uninterrupted event-loop work), and the
 *   samples in a stretch whose stack passes through our bundle (dist/extension.js) are our work.
 *   `maxOursMs` is the most of our work in one stretch: the stall we would cause on an idle machine.
 * The promise is 50 ms (docs/hardening.md); on an idle machine our longest stretch measures 4-9 ms
 * in every scenario. Samples are CPU time, which a loaded machine still stretches (56 ms was seen
 * on a busy fresh-clone run), so the tests print the numbers and `check()` asserts only OUR_STALL_LIMIT_MS:
 * 4x the promise, 20x what is measured, and still below the stalls the context fixes removed
 * (a 10 MB document: 324 ms in one stretch; its imports alone ~1 s; regex backtracking ~1.5 s).
 */
export class StallMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private session: inspector.Session | undefined;
  readonly gaps: number[] = [];
  private stretches: { totalMs: number; oursMs: number }[] = [];

  constructor(private readonly ours: RegExp = ourBundle()) {}

  async start(): Promise<this> {
    this.session = new inspector.Session();
    this.session.connect();
    await post(this.session, 'Profiler.enable');
    await post(this.session, 'Profiler.setSamplingInterval', { interval: SAMPLE_US });
    await post(this.session, 'Profiler.start');
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const gap = now - this.last - 5;
      if (gap > 20) this.gaps.push(Math.round(gap));
      this.last = now;
    }, 5);
    return this;
  }

  async stop(): Promise<this> {
    clearInterval(this.timer);
    const session = this.session;
    if (!session) return this;
    this.session = undefined;
    const { profile } = (await post(session, 'Profiler.stop')) as { profile: Profile };
    session.disconnect();
    this.stretches = busyStretches(profile, this.ours);
    return this;
  }

  /** Longest timer gap, whatever caused it. */
  get maxGapMs(): number {
    return Math.max(0, ...this.gaps);
  }

  /** Most of our own work in one uninterrupted stretch of event-loop work (ms of samples). */
  get maxOursMs(): number {
    return Math.round(Math.max(0, ...this.stretches.map((s) => s.oursMs)));
  }

  /** Longest uninterrupted stretch of event-loop work, anyone's (ms of samples). */
  get maxBusyMs(): number {
    return Math.round(Math.max(0, ...this.stretches.map((s) => s.totalMs)));
  }

  /** Fails only on a stall far beyond what load explains (callers print `summary()`). */
  check(label: string): void {
    assert.ok(this.maxOursMs <= OUR_STALL_LIMIT_MS, `${label}: our work blocked the event loop for ${this.maxOursMs} ms in one stretch (limit ${OUR_STALL_LIMIT_MS} ms; promise 50 ms): ${this.summary()}`);
  }

  summary(): string {
    const top = [...this.gaps].sort((a, b) => b - a).slice(0, 3);
    return `event loop: longest stretch of our work ${this.maxOursMs} ms; longest busy stretch (anyone's) ${this.maxBusyMs} ms; timer gaps max ${this.maxGapMs} ms (top ${top.join(', ') || '-'})`;
  }
}

const SAMPLE_US = 500;
/** See the class comment: a stated wide margin over the 50 ms promise, not the promise itself. */
export const OUR_STALL_LIMIT_MS = 200;

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

function post(session: inspector.Session, method: string, params: object = {}): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
}

/** Our bundle's URL as the profiler reports it. */
function ourBundle(): RegExp {
  const root = vscode.extensions.getExtension('tokenbutler.tokenbutler-code')!.extensionPath;
  return new RegExp(`${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dist/extension\\.js$`);
}

/** Splits the samples at idle samples; per stretch, its length and the part in our code. Samples
 *  are counted (× the interval), not timed: a preempted thread takes no samples. */
function busyStretches(profile: Profile, ours: RegExp): { totalMs: number; oursMs: number }[] {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, boolean>();
  const isOurs = (id: number): boolean => {
    let v = memo.get(id);
    if (v === undefined) {
      const url = byId.get(id)?.callFrame.url ?? '';
      const up = parent.get(id);
      v = ours.test(url.replace(/^file:\/\//, '')) || (up !== undefined && isOurs(up));
      memo.set(id, v);
    }
    return v;
  };
  const out: { totalMs: number; oursMs: number }[] = [];
  let cur = { totalMs: 0, oursMs: 0 };
  for (const id of profile.samples) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      if (cur.totalMs > 0) out.push(cur);
      cur = { totalMs: 0, oursMs: 0 };
      continue;
    }
    cur.totalMs += SAMPLE_US / 1000;
    if (isOurs(id)) cur.oursMs += SAMPLE_US / 1000;
  }
  if (cur.totalMs > 0) out.push(cur);
  return out;
}

/** Writes a file into the (copied) test workspace and returns its URI. */
export function writeWorkspaceFile(rel: string, content: string | Uint8Array): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const abs = path.join(folder, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return vscode.Uri.file(abs);
}

/** Asynchronous: deleting 50k files synchronously would block the extension host itself. */
export function removeWorkspacePath(rel: string): Promise<void> {
  const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
  return fs.promises.rm(path.join(folder, rel), { recursive: true, force: true });
}

/** Resident memory of a process in MB. */
export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Internet (TCP/UDP, v4/v6) sockets a process holds: their inodes, from /proc. */
export function inetSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const found: string[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9])) found.push(`${table} ${cols[1]} → ${cols[2]}`);
    }
  }
  return found;
}
