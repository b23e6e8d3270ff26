// Bundles the library (dist/index.js, dependencies external), the self-contained browser
// bundle used by the browser test tier (dist/descent.browser.js), and the demo page
// (demo/dist/main.js and its worker demo/dist/worker.js, which import the library from src). WGSL files are imported as text.
// The CPU backend's WebAssembly kernels are assembled first (scripts/build-wasm.mjs): the
// bundles carry them.
import * as esbuild from 'esbuild';
import { buildWasm } from './scripts/build-wasm.mjs';
import { wgslMinify } from './scripts/wgsl-minify.mjs';

await buildWasm();

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  // WGSL as text, without comments and indentation (scripts/wgsl-minify.mjs).
  plugins: [wgslMinify],
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  esbuild.build({ ...common, outfile: 'dist/index.js', platform: 'neutral', packages: 'external' }),
  esbuild.build({ ...common, outfile: 'dist/descent.browser.js', platform: 'browser' }),
  esbuild.build({ ...common, entryPoints: ['demo/src/main.ts'], outfile: 'demo/dist/main.js', platform: 'browser' }),
  // The lab's training worker, a module worker that main.js starts from the same folder.
  esbuild.build({ ...common, entryPoints: ['demo/src/worker.ts'], outfile: 'demo/dist/worker.js', platform: 'browser' }),
]);
