// `npm run bench`: bundles bench/main.ts (WGSL as text; webgpu and TensorFlow.js left to Node)
// and runs it: Descent against TF.js on WebGPU (Dawn on SwiftShader unless told otherwise) and on
// the CPU (tfjs wasm and cpu), and PyTorch's CPU step where python3 has torch. A full run writes
// bench/RESULTS.md, bench/results.json and bench/step-vs-batch.svg. Arguments pass through:
// --only=mlp,cnn,transformer,matmul,adam,torch,bundle,sweep, --quick, --no-gpu, --out=DIR/FILE.md.
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
