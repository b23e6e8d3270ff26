/** A labelled classification set held in memory, the shape every `data` loader returns. */
export interface Dataset {
  /** n samples of `inputShape` values each, back to back (MNIST: n × 784 grey levels in [0, 1]). */
  readonly x: Float32Array;
  /** Class index of each sample, in [0, classes). */
  readonly y: Int32Array;
  readonly n: number;
  /** Shape of one sample without the batch dimension, as the Trainer's `inputShape`. */
  readonly inputShape: readonly number[];
  readonly classes: number;
}

/** Values per sample. */
export function sampleSize(dataset: Pick<Dataset, 'inputShape'>): number {
  return dataset.inputShape.reduce((a, b) => a * b, 1);
}

/** Throws a message naming `who` when the arrays disagree with `n`, `inputShape` or `classes`. */
export function checkDataset(dataset: Dataset, who: string): void {
  const { x, y, n, inputShape, classes } = dataset;
  if (!(x instanceof Float32Array) || !(y instanceof Int32Array)) {
    throw new Error(`${who}: a dataset holds x as a Float32Array and y as an Int32Array`);
  }
  if (!Number.isInteger(n) || n < 0) throw new Error(`${who}: n must be an integer >= 0, got ${n}`);
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`${who}: classes must be an integer >= 1, got ${classes}`);
  const size = sampleSize(dataset);
  if (x.length !== n * size) {
    throw new Error(`${who}: x holds ${x.length} values, n = ${n} samples of [${inputShape.join(', ')}] need ${n * size}`);
  }
  if (y.length !== n) throw new Error(`${who}: y holds ${y.length} labels for n = ${n} samples`);
  for (let i = 0; i < n; i++) {
    if (!(y[i]! >= 0 && y[i]! < classes)) throw new Error(`${who}: label ${y[i]} of sample ${i} is outside [0, ${classes})`);
  }
}

/** The samples at `indices`, in that order, copied into a new dataset. */
export function take(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const size = sampleSize(dataset);
  const n = indices.length;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const from = indices[i]!;
    if (!(Number.isInteger(from) && from >= 0 && from < dataset.n)) {
      throw new Error(`take: index ${from} is outside [0, ${dataset.n})`);
    }
    x.set(dataset.x.subarray(from * size, (from + 1) * size), i * size);
    y[i] = dataset.y[from]!;
  }
  return { x, y, n, inputShape: dataset.inputShape, classes: dataset.classes };
}
