import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The 'webgpu' package, found from the working directory when a bundle lives elsewhere (/tmp). */
export async function loadWebgpu(): Promise<typeof import('webgpu')> {
  try {
    return await import('webgpu');
  } catch {
    const path = createRequire(`${process.cwd()}/`).resolve('webgpu');
    return (await import(pathToFileURL(path).href)) as typeof import('webgpu');
  }
}
