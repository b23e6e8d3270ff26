// The size a user downloads: src/index.ts bundled for the browser with every dependency and all
// WGSL (minified as in esbuild.config.mjs), reported unminified, minified and minified+gzipped.
// `node scripts/bundle-size.mjs` prints it, with TensorFlow.js's published bundles beside it, and
// exits 1 above BUNDLE_LIMIT; with --json it prints the figures for `npm run bench`.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { wgslMinify } from './wgsl-minify.mjs';

/** Issue 9's target for the minified + gzipped bundle, in bytes: the bench reports it met or not. */
export const BUNDLE_TARGET = 50 * 1024;

/**
 * The most minified + gzipped bytes test/cpu/bundle-size.test.ts lets through: the size when the
 * WGSL parser left the page (93-97 KB) plus room for the library to grow, so that a dependency or
 * a large table that slips into the bundle fails the CPU tier instead of going unnoticed.
 */
export const BUNDLE_LIMIT = 110 * 1024;

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function build(minify, entry) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    plugins: [wgslMinify],
    minify,
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  return result;
}

/**
 * Bytes of the library bundle: `raw` unminified, `min` minified, `gzip` minified then gzipped
 * (level 9), and `parts`: minified bytes by origin (each dependency, the WGSL, Descent's code).
 */
export async function measureBundle(entry = 'src/index.ts') {
  const raw = (await build(false, entry)).outputFiles[0].contents.length;
  const result = await build(true, entry);
  const output = result.outputFiles[0].contents;
  const parts = {};
  for (const meta of Object.values(result.metafile.outputs)) {
    for (const [path, input] of Object.entries(meta.inputs)) {
      const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
      const key = pkg ? pkg[1] : path.endsWith('.wgsl') ? 'WGSL' : 'Descent';
      parts[key] = (parts[key] ?? 0) + input.bytesInOutput;
    }
  }
  return { raw, min: output.length, gzip: gzip(output), parts };
}

/** TensorFlow.js's published minified bundles, as installed, gzipped the same way; null if absent. */
export function tfjsSizes() {
  const one = (path) => {
    try {
      const bytes = readFileSync(path);
      return { min: bytes.length, gzip: gzip(bytes) };
    } catch {
      return null;
    }
  };
  return {
    tfjs: one('node_modules/@tensorflow/tfjs/dist/tf.min.js'),
    webgpu: one('node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js'),
  };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const size = await measureBundle();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ descent: size, ...tfjsSizes(), target: BUNDLE_TARGET, limit: BUNDLE_LIMIT }));
    process.exit(0);
  }
  console.log(`Descent (src/index.ts, browser, all dependencies and WGSL):`);
  console.log(`  raw ${kb(size.raw)}, minified ${kb(size.min)}, minified+gzip ${kb(size.gzip)} (test limit ${kb(BUNDLE_LIMIT)}, target ${kb(BUNDLE_TARGET)})`);
  const parts = Object.entries(size.parts).sort((a, b) => b[1] - a[1]);
  console.log(`  minified by origin: ${parts.map(([k, v]) => `${k} ${kb(v)}`).join(', ')}`);
  const tf = tfjsSizes();
  for (const [name, s] of Object.entries(tf)) if (s) console.log(`TF.js ${name}: minified ${kb(s.min)}, minified+gzip ${kb(s.gzip)}`);
  process.exit(size.gzip <= BUNDLE_LIMIT ? 0 : 1);
}
