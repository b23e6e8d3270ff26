// Bundles the library (dist/index.js, dependencies external), the self-contained browser
// bundle used by the browser test tier (dist/descent.browser.js), and the demo page
// (demo/dist/main.js, which imports the library from src). WGSL files are imported as text.
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
  esbuild.build({ ...common, entryPoints: ['demo/src/main.ts'], outfile: 'demo/dist/main.js', platform: 'browser' }),
]);
