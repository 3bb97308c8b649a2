// npm run bench: builds, runs `cli bench --json` (dense, window and tokenbutler measured side by
// side in one run) and writes bench/results.md and bench/speed.svg.
//   node bench/run.mjs [--context 2048,8192,16384,32768] [--budget 512] [--steps 24] [--peer f16[,q8_0]|none]
// The llama.cpp peer rows (default --peer f16) run node-llama-cpp on a GGUF of the same weights.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
execFileSync(process.execPath, [path.join(root, 'esbuild.mjs')], { stdio: 'inherit' });
const cliArgs = ['bench', '--json', '--context', opt('context', '2048,8192,16384,32768'), '--budget', opt('budget', '512'), '--steps', opt('steps', '24'), '--max-context-tokens', '40000'];
if (opt('peer', 'f16') !== 'none') cliArgs.push('--peer', opt('peer', 'f16'));
const started = new Date();
const out = execFileSync(process.execPath, [path.join(root, 'dist/cli.js'), ...cliArgs], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
const r = JSON.parse(out.toString());

const colors = { dense: '#d1495b', window: '#8d99ae', tokenbutler: '#00798c', 'tokenbutler-i2': '#66a182', 'tokenbutler-i4': '#2e4057', 'tokenbutler-i8': '#a05195', 'llama.cpp-f16': '#edae49', 'llama.cpp-q8_0': '#9c6644' };
function svg(rows) {
  const W = 640, H = 360, m = { l: 60, r: 130, t: 30, b: 50 };
  const xs = [...new Set(rows.map((x) => x.context))].sort((a, b) => a - b);
  const ymax = Math.max(...rows.map((x) => x.msPerToken)) * 1.1;
  const X = (c) => m.l + (Math.log2(c) - Math.log2(xs[0])) / Math.max(1e-9, Math.log2(xs.at(-1)) - Math.log2(xs[0])) * (W - m.l - m.r);
  const Y = (v) => H - m.b - (v / ymax) * (H - m.t - m.b);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`;
  s += `<rect width="${W}" height="${H}" fill="white"/><text x="${m.l}" y="18" font-size="14">decode ms/token vs context (budget ${r.budget}, p50)</text>`;
  s += `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`;
  for (const c of xs) s += `<text x="${X(c)}" y="${H - m.b + 16}" text-anchor="middle">${c >= 1024 ? c / 1024 + 'k' : c}</text>`;
  for (let i = 0; i <= 4; i++) { const v = (ymax * i) / 4; s += `<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text><line x1="${m.l}" x2="${W - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`; }
  s += `<text x="${(W - m.r + m.l) / 2}" y="${H - 12}" text-anchor="middle">context tokens</text>`;
  let ly = m.t + 10;
  for (const p of Object.keys(colors)) {
    const pts = rows.filter((x) => x.policy === p).sort((a, b) => a.context - b.context);
    if (!pts.length) continue;
    s += `<polyline fill="none" stroke="${colors[p]}" stroke-width="2" points="${pts.map((x) => `${X(x.context)},${Y(x.msPerToken)}`).join(' ')}"/>`;
    for (const x of pts) s += `<circle cx="${X(x.context)}" cy="${Y(x.msPerToken)}" r="3" fill="${colors[p]}"/>`;
    s += `<rect x="${W - m.r + 12}" y="${ly - 9}" width="12" height="3" fill="${colors[p]}"/><text x="${W - m.r + 30}" y="${ly - 4}">${p}</text>`;
    ly += 18;
  }
  return s + '</svg>\n';
}

const md = [
  '# Speed benchmark',
  '',
  `Run ${started.toISOString()} on ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'} (load average at start ${os.loadavg()[0].toFixed(1)}), model \`models/default\`, command \`npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}\` (= \`node dist/cli.js ${cliArgs.join(' ')}\`).`,
  'Policies run interleaved round by round in one process, so the ratios are comparable even on a shared machine; absolute times are not. The llama.cpp rows (node-llama-cpp, a GGUF of the same weights written by training/pipeline/export_gguf.py) take their turn in the same rounds; every row names its settings.',
  '',
  r.table,
  '',
  '![decode ms/token vs context](speed.svg)',
  '',
].join('\n');
// sections after the run's own (## headings: earlier side-by-side comparisons, notes) are kept
const resultsFile = path.join(root, 'bench/results.md');
const previous = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '';
const kept = previous.indexOf('\n## ') >= 0 ? previous.slice(previous.indexOf('\n## ') + 1) : '';
writeFileSync(resultsFile, kept ? `${md}\n${kept}` : md);
writeFileSync(path.join(root, 'bench/speed.svg'), svg(r.rows));
writeFileSync(path.join(root, 'bench/results.json'), JSON.stringify(r, null, 1) + '\n');
console.log(md);
