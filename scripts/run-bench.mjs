// Bundles one TypeScript entry of bench/ (WGSL as text; webgpu left to Node) and runs it with
// Dawn pointed at SwiftShader unless told otherwise: `node scripts/run-bench.mjs bench/mnist-cnn.ts --epochs=10`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import * as esbuild from 'esbuild';
import { ensureChromium, webgpuEnv } from './env.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry || !existsSync(entry)) {
  console.error('usage: node scripts/run-bench.mjs bench/NAME.ts [arguments]');
  process.exit(1);
}
ensureChromium();
const dir = 'node_modules/.cache/descent-bench';
mkdirSync(dir, { recursive: true });
const outfile = `${dir}/${basename(entry, '.ts')}.mjs`;
await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  loader: { '.wgsl': 'text' },
  external: ['webgpu', '@tensorflow/*'],
  outfile,
  logLevel: 'warning',
});
const child = spawn(process.execPath, [outfile, ...args], { env: webgpuEnv(), stdio: ['ignore', 'inherit', 'pipe'] });
child.stderr.on('data', (d) => {
  const text = String(d).split('\n').filter((l) => l && !l.includes('XDG_RUNTIME_DIR')).join('\n');
  if (text) process.stderr.write(`${text}\n`);
});
child.on('exit', (code) => process.exit(code ?? 1));
