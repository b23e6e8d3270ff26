/**
 * Datasets and batching (`data`): the MNIST digits that ship with the project, seeded synthetic
 * 2-D sets, and mini-batches for Trainer.step.
 *
 * ```ts
 * const { train, test } = data.parseMnist(new Uint8Array(await (await fetch('mnist.bin')).arrayBuffer()));
 * const spiral = data.spiral({ n: 600, classes: 3, seed: 1 });
 * for (const { x, y } of data.batches(train, 128, { shuffle: true, seed: epoch, dropLast: true })) trainer.step(x, y);
 * ```
 */
export { checkDataset, type Dataset, sampleSize, take } from './dataset.js';
export { batchCount, type Batch, type BatchOptions, batches } from './batches.js';
export { encodeMnist, type EncodeMnistOptions, fnv1a, MNIST_HEADER_BYTES, MNIST_SEED, parseMnist } from './mnist.js';
export { mulberry32, normal, permutation, type Random, shuffleInPlace } from './random.js';
export {
  circles, gaussians, moons, type MultiClassOptions, spiral, synthetic, SYNTHETIC_SETS, type SyntheticName,
  type SyntheticOptions, xor,
} from './synthetic.js';
