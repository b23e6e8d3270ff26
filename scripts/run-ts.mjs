// Bundles one TypeScript entry (WGSL as text; webgpu left to Node) and runs it with Dawn pointed at
// SwiftShader unless told otherwise: `node scripts/run-ts.mjs bench/mnist-cnn.ts --epochs=10`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { ensureChromium, webgpuEnv } from './env.mjs';

const CACHE = 'node_modules/.cache/descent-bench';

/** Bundles `entry` for Node into the cache (webgpu and TensorFlow.js stay external); resolves with the bundle's path. */
export async function bundle(entry) {
  if (!entry || !existsSync(entry)) throw new Error(`run-ts: no such entry '${entry}'`);
  mkdirSync(CACHE, { recursive: true });
  const outfile = `${CACHE}/${basename(entry, '.ts')}.mjs`;
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
  return outfile;
}

/**
 * Runs the bundle `file` with `args` in `env` (by default webgpuEnv()), standard output passed
 * through and standard input as `stdin` says; resolves with its exit code (1 when killed, which it
 * reports under `name`).
 */
export function runBundle(file, args = [], { env = webgpuEnv(), stdin = 'inherit', name = basename(file, '.mjs') } = {}) {
  const child = spawn(process.execPath, [file, ...args], { env, stdio: [stdin, 'inherit', 'pipe'] });
  // Dawn's Vulkan loader complains about XDG_RUNTIME_DIR on headless machines; the rest of stderr
  // passes, line by line, since a chunk may end inside a line.
  let pending = '';
  child.stderr.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) if (!line.includes('XDG_RUNTIME_DIR')) process.stderr.write(`${line}\n`);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      if (pending && !pending.includes('XDG_RUNTIME_DIR')) process.stderr.write(`${pending}\n`);
      if (signal) console.error(`${name}: killed by ${signal}`);
      resolve(code ?? 1);
    });
  });
}

/** Bundles `entry` and runs it with `args` (see runBundle for `options`); resolves with its exit code. */
export async function runTs(entry, args = [], options = {}) {
  ensureChromium();
  return runBundle(await bundle(entry), args, options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    console.error('usage: node scripts/run-ts.mjs PATH.ts [arguments]');
    process.exit(1);
  }
  process.exit(await runTs(entry, args));
}
