// `npm run bench`: bundles bench/main.ts (WGSL as text; webgpu and TensorFlow.js left to Node)
// and runs it on WebGPU (Dawn on SwiftShader unless told otherwise), Descent and TF.js side by
// side. A full run writes bench/RESULTS.md. Arguments pass through: --only=mlp,adam,matmul,
// --quick, --out=FILE.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { webgpuEnv } from './env.mjs';
import { runTs } from './run-ts.mjs';

if (!existsSync('bench/main.ts')) {
  console.error('npm run bench: run it from the repository root');
  process.exit(1);
}

function revision() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const env = { ...webgpuEnv(), DESCENT_BENCH_COMMAND: 'npm run bench', DESCENT_BENCH_REVISION: revision() };
process.exit(await runTs('bench/main.ts', process.argv.slice(2), { env, stdin: 'ignore', name: 'bench' }));
