/**
 * Files in the browser: a download, a file picker, and the origin private file system (OPFS),
 * which keeps checkpoints across visits without asking the user anything.
 */

/** Offers `bytes` to the user as a downloaded file named `filename`. */
export function download(bytes: Uint8Array, filename: string): void {
  if (typeof document === 'undefined') throw new Error('io.download: needs a page (document); in Node use io.saveFile');
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started once click() returns in every browser, but Safari reads the URL a
  // moment later: revoke it on the next turn rather than now.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/**
 * Asks the user for a file (default: `.safetensors`) and resolves with its bytes; rejects when
 * the picker is cancelled. Call it from a user gesture (a click handler), as browsers require.
 */
export function openFile({ accept = '.safetensors' }: { accept?: string } = {}): Promise<Uint8Array> {
  if (typeof document === 'undefined') return Promise.reject(new Error('io.openFile: needs a page (document); in Node use io.readFile'));
  return new Promise((resolve, reject) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (!file) return reject(new Error('io.openFile: no file was chosen'));
      file.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
    });
    input.addEventListener('cancel', () => reject(new Error('io.openFile: the file picker was cancelled')));
    input.click();
  });
}

async function opfsRoot(what: string): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (typeof storage?.getDirectory !== 'function') {
    throw new Error(`io.${what}: this browser has no origin private file system (navigator.storage.getDirectory)`);
  }
  return storage.getDirectory();
}

/**
 * Stores `bytes` as `name` in the origin private file system (replacing any file of that name).
 * Uses a writable stream where the browser has one, else a synchronous access handle (Safari
 * offers only that, and only inside a Web Worker, where Descent's demo trains).
 */
export async function saveToOpfs(name: string, bytes: Uint8Array): Promise<void> {
  const handle = await (await opfsRoot('saveToOpfs')).getFileHandle(name, { create: true });
  if (typeof handle.createWritable === 'function') {
    const writable = await handle.createWritable();
    await writable.write(bytes as Uint8Array<ArrayBuffer>);
    await writable.close();
    return;
  }
  const sync = handle as FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccess> };
  if (typeof sync.createSyncAccessHandle !== 'function') throw new Error('io.saveToOpfs: this browser cannot write OPFS files here (try inside a Web Worker)');
  const access = await sync.createSyncAccessHandle();
  try {
    access.truncate(0);
    access.write(bytes, { at: 0 });
    access.flush();
  } finally {
    access.close();
  }
}

/** The part of FileSystemSyncAccessHandle used here (not in every DOM typing). */
interface SyncAccess {
  truncate(size: number): void;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

/** Reads the file `name` from the origin private file system; rejects naming it when absent. */
export async function loadFromOpfs(name: string): Promise<Uint8Array> {
  const root = await opfsRoot('loadFromOpfs');
  let handle: FileSystemFileHandle;
  try {
    handle = await root.getFileHandle(name);
  } catch (e) {
    throw new Error(`io.loadFromOpfs: no file '${name}' in the origin private file system (${(e as Error).name})`);
  }
  return new Uint8Array(await (await handle.getFile()).arrayBuffer());
}
