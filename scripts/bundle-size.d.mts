// Types of scripts/bundle-size.mjs for the TypeScript code that imports it.
export interface BundleSize {
  /** Bytes unminified, minified, and minified then gzipped (level 9). */
  readonly raw: number;
  readonly min: number;
  readonly gzip: number;
  /** Minified bytes by origin: each dependency by package name, 'WGSL', 'Descent'. */
  readonly parts: Readonly<Record<string, number>>;
}
export interface PublishedSize {
  readonly min: number;
  readonly gzip: number;
}
export const BUNDLE_LIMIT: number;
export const BUNDLE_TARGET: number;
export function measureBundle(entry?: string): Promise<BundleSize>;
export function tfjsSizes(): { tfjs: PublishedSize | null; webgpu: PublishedSize | null };
