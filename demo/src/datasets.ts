/** The lab's data: the shipped MNIST split, fetched once from the page's folder, or a 2-D set. */
import { data } from '../../src/index.js';
import type { DatasetName } from './config.js';

export interface Split {
  readonly train: data.Dataset;
  readonly test: data.Dataset;
}

let mnist: Promise<Split> | null = null;

async function fetchMnist(): Promise<Split> {
  const response = await fetch(new URL('dist/mnist.bin', document.baseURI));
  if (!response.ok) throw new Error(`could not load dist/mnist.bin (HTTP ${response.status}); build it with 'npm start'`);
  return data.parseMnist(await response.arrayBuffer());
}

/** The 2-D sets draw 800 training points and 400 held-out points from two seeds. */
export async function loadDataset(name: DatasetName, seed: number): Promise<Split> {
  if (name === 'mnist') {
    mnist ??= fetchMnist().catch((e: unknown) => {
      mnist = null;
      throw e;
    });
    return mnist;
  }
  return {
    train: data.synthetic(name, { n: 800, seed }),
    test: data.synthetic(name, { n: 400, seed: seed + 1000 }),
  };
}
