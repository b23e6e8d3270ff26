// Bundles one TypeScript entry (WGSL as text; webgpu left to Node) and runs it with Dawn pointed at
// SwiftShader unless told otherwise: `node scripts/run-ts.mjs bench/mnist-cnn.ts --epochs=10`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { ensureChromium, webgpuEnv } from './env.mjs';

/** Bundles `entry` and runs it with `args`, standard input and output passed through; resolves with its exit code. */
export async function runTs(entry, args = []) {
  if (!entry || !existsSync(entry)) throw new Error(`run-ts: no such entry '${entry}'`);
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
  const child = spawn(process.execPath, [outfile, ...args], { env: webgpuEnv(), stdio: ['inherit', 'inherit', 'pipe'] });
  // Dawn's Vulkan loader complains about XDG_RUNTIME_DIR on headless machines; the rest of stderr passes.
  child.stderr.on('data', (d) => {
    const text = String(d).split('\n').filter((l) => l && !l.includes('XDG_RUNTIME_DIR')).join('\n');
    if (text) process.stderr.write(`${text}\n`);
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    console.error('usage: node scripts/run-ts.mjs PATH.ts [arguments]');
    process.exit(1);
  }
  process.exit(await runTs(entry, args));
}
