/** Mini-batches over a dataset, in order or shuffled by a seed. */
import { checkDataset, type Dataset, sampleSize } from './dataset.js';
import { permutation } from './random.js';

export interface BatchOptions {
  /** Visit the samples in an order fixed by `seed` (pass a different seed each epoch). Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /**
   * Skip the last batch when it is smaller than `batchSize`. The Trainer compiles one program per
   * distinct batch size, so dropping it avoids a second compilation (its samples are then unseen
   * in that epoch). Default false: the last, partial batch is included.
   */
  dropLast?: boolean;
}

/** A batch as Trainer.step takes it: x holds batch × sample values, y the class indices. */
export interface Batch {
  readonly x: Float32Array;
  readonly y: Int32Array;
}

/** How many batches `batches(dataset, batchSize, { dropLast })` yields for n samples. */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Yields one epoch of batches, each a fresh copy; every sample appears exactly once (once at most
 * with `dropLast`).
 *
 * ```ts
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for (const { x, y } of data.batches(train, 128, { shuffle: true, seed: epoch })) trainer.step(x, y);
 * }
 * ```
 */
export function* batches(dataset: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch> {
  const { shuffle = false, seed = 0, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batches: batchSize must be an integer >= 1, got ${batchSize}`);
  checkDataset(dataset, 'batches');
  const size = sampleSize(dataset);
  const order = shuffle ? permutation(dataset.n, seed) : null;
  const count = batchCount(dataset.n, batchSize, dropLast);
  for (let b = 0; b < count; b++) {
    const start = b * batchSize;
    const m = Math.min(batchSize, dataset.n - start);
    const x = new Float32Array(m * size);
    const y = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const from = order ? order[start + i]! : start + i;
      x.set(dataset.x.subarray(from * size, (from + 1) * size), i * size);
      y[i] = dataset.y[from]!;
    }
    yield { x, y };
  }
}
