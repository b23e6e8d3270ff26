import { mulberry32, type Random } from '../data/random.js';

/**
 * The generator behind parameter initialisation. `manualSeed` makes model construction
 * reproducible, as torch.manual_seed does; otherwise each process starts from a random seed.
 */
let generator: Random = mulberry32((Math.random() * 2 ** 32) >>> 0);

export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  generator = mulberry32(seed >>> 0);
}

/** Uniform in [0, 1). */
export function random(): number {
  return generator();
}

export function uniform(n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}
