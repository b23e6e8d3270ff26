/**
 * The seeded generator behind every shuffle and synthetic set in `data`: mulberry32 (Tommy
 * Ettinger, 2017), a 32-bit state advanced by a Weyl increment and mixed by two multiply-xorshift
 * rounds. Not for cryptography, and not the counter-based generator of the dropout kernels; it
 * only has to be small, fast, and give the same stream for a seed in every JavaScript engine
 * (it uses nothing but 32-bit integer arithmetic, so it does).
 *
 *     state ← state + 0x6D2B79F5
 *     z ← (state ⊕ state≫15) · (state | 1)
 *     z ← z ⊕ (z + (z ⊕ z≫7) · (z | 61))
 *     u = (z ⊕ z≫14) / 2³²                       uniform in [0, 1)
 *
 * With seed 1 the first three values are 0.6270739405881613, 0.002735721180215478 and
 * 0.5274470399599522.
 */
export type Random = () => number;

export function mulberry32(seed: number): Random {
  if (!Number.isInteger(seed)) throw new Error(`mulberry32: the seed must be an integer, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample by the Box–Muller transform (one of the pair; the other is dropped). */
export function normal(random: Random): number {
  const u = 1 - random(); // in (0, 1], so the logarithm is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Shuffles in place by Fisher–Yates (Durstenfeld's form), drawing from `random`. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(items: T, random: Random): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** 0, 1, …, n − 1 in an order fixed by `seed`. */
export function permutation(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, mulberry32(seed));
}
