/**
 * Seeded 2-D classification sets for the lab: each point (x₁, x₂) lies roughly in [−1, 1]²,
 * sample i belongs to class i mod classes (so every class has its share and any prefix is
 * mixed), and the same options and seed give the same set in every engine. Noise is Gaussian
 * with standard deviation `noise`, drawn from mulberry32(seed) by Box–Muller (see random.ts).
 */
import type { Dataset } from './dataset.js';
import { mulberry32, normal, type Random } from './random.js';

export interface SyntheticOptions {
  /** Number of points. Default 600. */
  n?: number;
  /** Standard deviation of the Gaussian noise; each set has its own default. */
  noise?: number;
  /** Default 1. */
  seed?: number;
}

export interface MultiClassOptions extends SyntheticOptions {
  /** Number of classes (arms of the spiral, blobs). Default 3 for spiral, 4 for gaussians. */
  classes?: number;
}

/** The names `synthetic(name, options)` accepts. */
export const SYNTHETIC_SETS = ['spiral', 'circles', 'xor', 'gaussians', 'moons'] as const;
export type SyntheticName = (typeof SYNTHETIC_SETS)[number];

type Point = (k: number, random: Random) => [number, number];

function generate(who: string, options: SyntheticOptions, classes: number, noiseDefault: number, point: Point): Dataset {
  const { n = 600, noise = noiseDefault, seed = 1 } = options;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${who}: n must be an integer >= 1, got ${n}`);
  if (!(noise >= 0 && Number.isFinite(noise))) throw new Error(`${who}: noise must be a finite number >= 0, got ${noise}`);
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`${who}: classes must be an integer >= 2, got ${classes}`);
  const random = mulberry32(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const [a, b] = point(k, random);
    x[2 * i] = a + noise * normal(random);
    x[2 * i + 1] = b + noise * normal(random);
    y[i] = k;
  }
  return { x, y, n, inputShape: [2], classes };
}

/**
 * Interleaved spiral arms (the classic CS231n set). Arm k at position t ~ U(0, 1):
 * radius t, angle 2πk/classes + 1.75 · 2π · t; the noise is added to the point.
 */
export function spiral(options: MultiClassOptions = {}): Dataset {
  const classes = options.classes ?? 3;
  return generate('spiral', options, classes, 0.04, (k, random) => {
    const t = random();
    const angle = (2 * Math.PI * k) / classes + 3.5 * Math.PI * t;
    return [t * Math.cos(angle), t * Math.sin(angle)];
  });
}

/** Two concentric circles (as sklearn's make_circles): class 0 on radius 0.9, class 1 on 0.45. */
export function circles(options: SyntheticOptions = {}): Dataset {
  return generate('circles', options, 2, 0.06, (k, random) => {
    const angle = 2 * Math.PI * random();
    const r = k === 0 ? 0.9 : 0.45;
    return [r * Math.cos(angle), r * Math.sin(angle)];
  });
}

/**
 * The XOR quadrants: class 0 where x₁ and x₂ have the same sign, class 1 where they differ.
 * Points are uniform in their two quadrants, kept 0.05 away from the axes before the noise.
 */
export function xor(options: SyntheticOptions = {}): Dataset {
  return generate('xor', options, 2, 0.03, (k, random) => {
    const a = 0.05 + 0.95 * random();
    const b = 0.05 + 0.95 * random();
    const flip = random() < 0.5 ? 1 : -1;
    return k === 0 ? [flip * a, flip * b] : [flip * a, -flip * b];
  });
}

/** Round Gaussian blobs (std `noise`) centred at radius 0.6, angles 2πk/classes + π/4. */
export function gaussians(options: MultiClassOptions = {}): Dataset {
  const classes = options.classes ?? 4;
  return generate('gaussians', options, classes, 0.18, (k) => {
    const angle = (2 * Math.PI * k) / classes + Math.PI / 4;
    return [0.6 * Math.cos(angle), 0.6 * Math.sin(angle)];
  });
}

/**
 * Two interleaving half circles (as sklearn's make_moons), scaled by 0.65 and centred: class 0 on
 * (cos θ − 0.5, sin θ − 0.25)·0.65, class 1 on (0.5 − cos θ, 0.25 − sin θ)·0.65, θ ~ U(0, π).
 */
export function moons(options: SyntheticOptions = {}): Dataset {
  return generate('moons', options, 2, 0.08, (k, random) => {
    const theta = Math.PI * random();
    const sign = k === 0 ? 1 : -1;
    return [0.65 * sign * (Math.cos(theta) - 0.5), 0.65 * sign * (Math.sin(theta) - 0.25)];
  });
}

/** One of the sets by name. */
export function synthetic(name: SyntheticName, options: MultiClassOptions = {}): Dataset {
  switch (name) {
    case 'spiral':
      return spiral(options);
    case 'circles':
      return circles(options);
    case 'xor':
      return xor(options);
    case 'gaussians':
      return gaussians(options);
    case 'moons':
      return moons(options);
    default:
      throw new Error(`synthetic: unknown set '${String(name)}'; choose one of ${SYNTHETIC_SETS.join(', ')}`);
  }
}
