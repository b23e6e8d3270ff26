/**
 * The generator behind parameter initialisation. `manualSeed` makes model construction
 * reproducible, as torch.manual_seed does; otherwise each process starts from a random seed.
 */
let state = (Math.random() * 2 ** 32) >>> 0;

export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  state = seed >>> 0;
}

/** Uniform in [0, 1), mulberry32. */
export function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export function uniform(n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}
