/**
 * Files in Node. `node:fs/promises` is imported on first use, through a specifier the bundlers
 * leave alone, so the browser bundle carries no reference to Node and these functions only fail
 * (with a clear error) when called outside Node.
 */
/** The two functions of `node:fs/promises` used here (the library's types do not include Node's). */
interface Fs {
  writeFile(path: string, data: Uint8Array): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
}

const FS_MODULE: string = 'node:fs/promises';

async function fs(what: string): Promise<Fs> {
  try {
    return (await import(/* @vite-ignore */ FS_MODULE)) as Fs;
  } catch {
    throw new Error(`io.${what}: the file system is only reachable in Node; in a browser use io.download / io.openFile or io.saveToOpfs / io.loadFromOpfs`);
  }
}

/** Writes bytes (a safetensors file, a checkpoint) to `path`, replacing any file there. */
export async function saveFile(path: string, bytes: Uint8Array): Promise<void> {
  await (await fs('saveFile')).writeFile(path, bytes);
}

/** Reads the whole file at `path`. */
export async function readFile(path: string): Promise<Uint8Array> {
  const buffer = await (await fs('readFile')).readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
