// Starting the engine child (dist/engine-child.js) as plain Node with an IPC channel, and relaying
// its stdout and stderr line by line.
import { fork, type ChildProcess } from 'node:child_process';

/** Forks the child; throws if it cannot be started at all. */
export function forkEngineChild(
  childPath: string,
  env: NodeJS.ProcessEnv | undefined,
  output: { stdout(line: string): void; stderr(line: string): void },
): ChildProcess {
  const child = fork(childPath, [], {
    // The extension host may run with --inspect etc.; the child must not inherit that.
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // In desktop VS Code process.execPath is Electron: make it behave as plain Node.
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env },
  });
  pipeLines(child.stdout, output.stdout);
  pipeLines(child.stderr, output.stderr);
  return child;
}

const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      // onnxruntime colours its stderr; the output channel shows the escapes as text.
      const line = buffered.slice(0, nl).replace(ANSI_ESCAPE, '').trimEnd();
      buffered = buffered.slice(nl + 1);
      if (line) onLine(line);
    }
  });
  stream.on('end', () => {
    if (buffered.trim()) onLine(buffered.replace(ANSI_ESCAPE, '').trimEnd());
  });
}
