// Types of scripts/start.mjs for the TypeScript tests that import it.
export function buildDemo(options?: { log?: (line: string) => void }): Promise<void>;
export function serveDemo(options?: { port?: number; host?: string }): Promise<{ url: string; close(): Promise<void> }>;
