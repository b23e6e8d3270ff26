// `npm run bench`: bundles bench/main.ts (WGSL as text; webgpu and TensorFlow.js left to Node)
// and runs it on WebGPU (Dawn on SwiftShader unless told otherwise), Descent and TF.js side by
// side. A full run writes bench/RESULTS.md. Arguments pass through: --only=mlp,adam,matmul,
// --quick, --out=FILE.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as esbuild from 'esbuild';
import { ensureChromium, webgpuEnv } from './env.mjs';

const OUTFILE = 'node_modules/.cache/descent-bench/main.mjs';

ensureChromium();
if (!existsSync('bench/main.ts')) {
  console.error('npm run bench: run it from the repository root');
  process.exit(1);
}
mkdirSync('node_modules/.cache/descent-bench', { recursive: true });
await esbuild.build({
  entryPoints: ['bench/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  loader: { '.wgsl': 'text' },
  external: ['webgpu', '@tensorflow/*'],
  outfile: OUTFILE,
  logLevel: 'warning',
});

function revision() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const env = { ...webgpuEnv(), DESCENT_BENCH_COMMAND: 'npm run bench', DESCENT_BENCH_REVISION: revision() };
const child = spawn(process.execPath, [OUTFILE, ...process.argv.slice(2)], { env, stdio: ['ignore', 'inherit', 'pipe'] });
// Dawn's Vulkan loader complains about XDG_RUNTIME_DIR on headless machines; the rest of stderr passes.
let pending = '';
child.stderr.on('data', (chunk) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop();
  for (const line of lines) if (!line.includes('XDG_RUNTIME_DIR')) process.stderr.write(`${line}\n`);
});
child.on('close', (code, signal) => {
  if (pending && !pending.includes('XDG_RUNTIME_DIR')) process.stderr.write(`${pending}\n`);
  if (signal) console.error(`bench: killed by ${signal}`);
  process.exit(code ?? 1);
});
