// Bundles the library (dist/index.js, dependencies external) and the self-contained browser
// bundle used by the demo and the browser test tier (dist/descent.browser.js). WGSL files are
// imported as text.
import * as esbuild from 'esbuild';

const common = {
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  loader: { '.wgsl': 'text' },
  sourcemap: true,
  logLevel: 'warning',
};

await Promise.all([
  esbuild.build({ ...common, outfile: 'dist/index.js', platform: 'neutral', packages: 'external' }),
  esbuild.build({ ...common, outfile: 'dist/descent.browser.js', platform: 'browser' }),
]);
