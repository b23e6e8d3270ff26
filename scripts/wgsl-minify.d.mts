// Types of scripts/wgsl-minify.mjs for the TypeScript tests that import it.
export function minifyWgsl(source: string): string;
export const wgslMinify: { name: string; setup(build: unknown): void };
