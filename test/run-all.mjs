// npm test: runs every test kind, collects the counts and prints one "N passed, N failed" line.
//   typecheck → lint (eslint) → vitest units → Python training tests → build + package (+ VSIX check)
//   → integration tests in real VS Code (vscode-test) → Playwright UI test
// Each kind's full output goes to test-results/<kind>.log; the console shows its key lines.
// Usage: node test/run-all.mjs [--only typecheck,lint,unit,python,package,integration,ui]
// Exits non-zero if anything failed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const results = path.join(root, 'test-results');
fs.mkdirSync(results, { recursive: true });
const bin = (name) => path.join(root, 'node_modules/.bin', name);
const node = process.execPath;
const onlyArg = process.argv.find((a, i) => process.argv[i - 1] === '--only' || a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.replace(/^--only=/, '').split(',')) : undefined;

/** Runs a command, tees its output to a log file, echoes lines matching `show`. */
function exec(kind, cmd, args, { show = /./, env = {} } = {}) {
  const logFile = path.join(results, `${kind}.log`);
  const log = fs.createWriteStream(logFile);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let partial = '';
    const onData = (chunk) => {
      const text = chunk.toString().replace(/\x1b\[[0-9;]*m/g, ''); // no colours in logs or parsing
      output += text;
      log.write(text);
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop();
      for (const line of lines) if (show.test(line)) console.log(`  ${line}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => onData(Buffer.from(`${e.message}\n`)));
    child.on('close', (code) => {
      if (partial && show.test(partial)) console.log(`  ${partial}`);
      log.end();
      resolve({ code: code ?? 1, output });
    });
  });
}

const lastMatch = (text, re) => {
  let m;
  let last;
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  while ((m = g.exec(text))) last = m;
  return last;
};
/** "N passed, N failed" as printed by our own scripts. */
function summaryCounts(output) {
  const m = lastMatch(output, /^(\d+) passed, (\d+) failed$/m);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : undefined;
}
/** A failing exit code always counts as at least one failure. */
const settle = (counts, code) => {
  const c = counts ?? { passed: 0, failed: 0 };
  return code !== 0 && c.failed === 0 ? { ...c, failed: c.failed + 1 } : c;
};

const kinds = [
  {
    kind: 'typecheck',
    title: 'typecheck (tsc --noEmit)',
    async run() {
      const { code } = await exec('typecheck', bin('tsc'), ['-p', '.', '--noEmit'], { show: /error TS/ });
      return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
    },
  },
  {
    kind: 'lint',
    title: 'lint (eslint, eslint.config.mjs)',
    async run() {
      // one test; the console shows each problem (file, then "line:col error message rule") and the total
      const { code } = await exec('lint', bin('eslint'), ['.'], { show: /^\/|^\s+\d+:\d+\s|problems?/ });
      return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
    },
  },
  {
    kind: 'unit',
    title: 'unit tests (vitest)',
    async run() {
      const json = path.join(results, 'vitest.json');
      fs.rmSync(json, { force: true });
      const { code } = await exec('unit', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile=${json}`], {
        show: /✓ |✗ |× |FAIL|Tests |Test Files /,
        env: { VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
      });
      let counts;
      try {
        const r = JSON.parse(fs.readFileSync(json, 'utf8'));
        counts = { passed: r.numPassedTests, failed: r.numFailedTests + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0) };
      } catch {}
      return settle(counts, code);
    },
  },
  {
    kind: 'python',
    title: 'training tests (Python) + ruff',
    async run() {
      // training/ is the top-level directory: the tests import the tbtrain library as installed code would
      // (pytest reads `pythonpath` from training/pyproject.toml; unittest's -t puts training/ on sys.path)
      const dir = path.join(root, 'training/tests');
      if (!fs.existsSync(dir)) return { passed: 0, failed: 0, note: 'training/tests not present' };
      // the linter (training/pyproject.toml [tool.ruff]) counts as one more test
      const lint = await exec('python-ruff', 'python3', ['-m', 'ruff', 'check', 'training'], { show: /^[^ ].*:\d+:\d+:|Found|All checks|No module/ });
      const ruff = lint.code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
      const add = (c) => ({ passed: c.passed + ruff.passed, failed: c.failed + ruff.failed });
      const hasPytest = spawnSync('python3', ['-m', 'pytest', '--version'], { stdio: 'ignore' }).status === 0;
      if (hasPytest) {
        const xml = path.join(results, 'pytest.xml');
        fs.rmSync(xml, { force: true });
        const { code, output } = await exec('python', 'python3', ['-m', 'pytest', 'training/tests', '-q', '-p', 'no:cacheprovider', `--junitxml=${xml}`], {
          show: /passed|failed|error|FAILED|ERROR/,
        });
        let counts;
        if (fs.existsSync(xml)) {
          const head = fs.readFileSync(xml, 'utf8').match(/<testsuite [^>]*>/)?.[0] ?? '';
          const attr = (n) => Number(head.match(new RegExp(` ${n}="(\\d+)"`))?.[1] ?? 0);
          const failed = attr('failures') + attr('errors');
          counts = { passed: attr('tests') - failed - attr('skipped'), failed };
        } else if (/no tests ran/.test(output)) counts = { passed: 0, failed: 0 };
        return add(settle(counts, code === 5 ? 0 : code)); // 5 = no tests collected
      }
      const { code, output } = await exec('python', 'python3', ['-m', 'unittest', 'discover', '-s', 'training/tests', '-t', 'training'], {
        show: /^(Ran |OK|FAILED|ERROR:|FAIL:)/,
      });
      const ran = Number(output.match(/^Ran (\d+) tests?/m)?.[1] ?? 0);
      const f = output.match(/^FAILED \(([^)]*)\)/m)?.[1] ?? '';
      const failed = [...f.matchAll(/(?:failures|errors)=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
      const skipped = Number(f.match(/skipped=(\d+)/)?.[1] ?? output.match(/^OK \(skipped=(\d+)\)/m)?.[1] ?? 0);
      return add(settle({ passed: ran - failed - skipped, failed }, code));
    },
  },
  {
    kind: 'package',
    title: 'build + package (esbuild, vsce, VSIX check)',
    async run() {
      const { code, output } = await exec('package', node, [path.join(root, 'scripts/package.mjs')], {
        show: /^(PASS|FAIL|SKIP|packaged|esbuild:)|ERROR/,
      });
      return settle(summaryCounts(output), code);
    },
  },
  {
    kind: 'integration',
    title: 'integration tests in real VS Code (vscode-test → code-server)',
    async run() {
      const build = await exec('integration-build', node, [path.join(root, 'esbuild.mjs'), '--tests'], { show: /error|✘/i });
      if (build.code !== 0) return { passed: 0, failed: 1 };
      const { code, output } = await exec('integration', bin('vscode-test'), [], {
        show: /^\s*(✔|✓|\d+\)|\d+ passing|\d+ failing|\d+ pending|[A-Z][\w ]+$)|Error|runner|missing/,
      });
      const passing = Number(lastMatch(output, /^\s*(\d+) passing/m)?.[1] ?? 0);
      const failing = Number(lastMatch(output, /^\s*(\d+) failing/m)?.[1] ?? 0);
      return settle({ passed: passing, failed: failing }, code);
    },
  },
  {
    kind: 'ui',
    title: 'UI test (Playwright + headless Chromium → code-server)',
    async run() {
      const { code, output } = await exec('ui', node, [path.join(root, 'test/e2e/ui-run.mjs')], { show: /PASS|FAIL|ERROR|missing|screenshot/ });
      return settle(summaryCounts(output), code);
    },
  },
];

const t0 = Date.now();
const rows = [];
for (const k of kinds) {
  if (only && !only.has(k.kind)) continue;
  const started = Date.now();
  console.log(`\n== ${k.title}`);
  let r;
  try {
    r = await k.run();
  } catch (e) {
    console.log(`  ${e.stack || e}`);
    r = { passed: 0, failed: 1 };
  }
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`-- ${k.kind}: ${r.passed} passed, ${r.failed} failed (${secs} s)${r.note ? ` — ${r.note}` : ''}${r.failed ? ` — log: test-results/${k.kind}.log` : ''}`);
  rows.push({ ...k, ...r, secs });
}
const passed = rows.reduce((s, r) => s + r.passed, 0);
const failed = rows.reduce((s, r) => s + r.failed, 0);
console.log(`\n${'kind'.padEnd(12)} ${'passed'.padStart(6)} ${'failed'.padStart(6)} ${'secs'.padStart(5)}`);
for (const r of rows) console.log(`${r.kind.padEnd(12)} ${String(r.passed).padStart(6)} ${String(r.failed).padStart(6)} ${String(r.secs).padStart(5)}`);
console.log(`total time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
