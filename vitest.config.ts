import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** Loads `.wgsl` files as text, as esbuild's text loader does for the bundles. */
const wgslText = {
  name: 'wgsl-text',
  enforce: 'pre' as const,
  load(id: string) {
    if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    return null;
  },
};

export default defineConfig({
  plugins: [wgslText],
  test: {
    projects: [
      { plugins: [wgslText], test: { name: 'cpu', include: ['test/cpu/**/*.test.ts'], environment: 'node' } },
      {
        plugins: [wgslText],
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One Dawn device per worker; SwiftShader already uses every core.
          fileParallelism: false,
        },
      },
      {
        plugins: [wgslText],
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
