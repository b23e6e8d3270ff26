// Types of scripts/build-wasm.mjs for the TypeScript tests that import it.
export const WAT_PATH: string;
export const GENERATED_PATH: string;
export function assembleKernels(): Promise<Uint8Array<ArrayBuffer>>;
export function buildWasm(): Promise<number>;
