import { describe, expect, it } from 'vitest';
import { BUNDLE_LIMIT, measureBundle } from '../../scripts/bundle-size.mjs';

// Builds the browser bundle of src/index.ts in memory (esbuild, all dependencies, minified WGSL).
describe('library bundle size', () => {
  it('stays under the limit, minified and gzipped, without the WGSL parser', async () => {
    const size = await measureBundle();
    expect(Object.keys(size.parts)).not.toContain('wgsl_reflect');
    expect(size.parts.WGSL).toBeGreaterThan(10_000);
    expect(size.gzip).toBeLessThan(size.min);
    expect(size.min).toBeLessThan(size.raw);
    expect(size.gzip, `minified+gzip ${size.gzip} bytes, limit ${BUNDLE_LIMIT}`).toBeLessThanOrEqual(BUNDLE_LIMIT);
  }, 60_000);

  it('sees the WGSL parser when a module pulls it in', async () => {
    // The size check must be able to fail: the parser alone, bundled the same way, shows it does.
    const size = await measureBundle('src/backend/webgpu/reflect.ts');
    expect(Object.keys(size.parts)).toContain('wgsl_reflect');
    expect(size.gzip).toBeGreaterThan(30 * 1024);
  }, 60_000);
});
