import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  batchCount, batches, type Dataset, encodeMnist, MNIST_HEADER_BYTES, parseMnist, permutation, synthetic, SYNTHETIC_SETS,
} from '../../src/data/index.js';

/** Class k's samples as the package stores them; each sample unique (its first pixels encode k and s). */
function fakeDigits(counts: number[], size: number): Float32Array[] {
  return counts.map((count, k) => {
    const values = new Float32Array(count * size);
    for (let s = 0; s < count; s++) {
      values[s * size] = k / 255;
      values[s * size + 1] = s / 255;
      for (let p = 2; p < size; p++) values[s * size + p] = ((k * 31 + s * 7 + p * 13) % 97) / 96;
    }
    return values;
  });
}

function key(values: ArrayLike<number>, from: number, size: number): string {
  return Array.from({ length: size }, (_, p) => Math.round(values[from + p]! * 255)).join(',');
}

function counts(y: Int32Array, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const k of y) c[k]!++;
  return c;
}

function loadPackageDigits(): number[][] {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src/digits');
  return Array.from({ length: 10 }, (_, k) => JSON.parse(readFileSync(join(dir, `${k}.json`), 'utf8')).data as number[]);
}

describe('MNIST binary', () => {
  it('round-trips every sample once, with its label and grey levels to 1/510', () => {
    const [height, width] = [3, 5];
    const size = height * width;
    const digits = fakeDigits([4, 7, 5], size);
    const bytes = encodeMnist(digits, { height, width, train: 11, seed: 3 });
    expect(bytes.length).toBe(MNIST_HEADER_BYTES + 16 * (size + 1));
    const { train, test } = parseMnist(bytes);
    expect([train.n, test.n]).toEqual([11, 5]);
    for (const d of [train, test]) {
      expect(d.inputShape).toEqual([size]);
      expect(d.classes).toBe(3);
    }
    const source = new Map<string, { k: number; from: number }>();
    digits.forEach((values, k) => {
      for (let s = 0; s < values.length / size; s++) source.set(key(values, s * size, size), { k, from: s * size });
    });
    const seen = new Set<string>();
    for (const d of [train, test]) {
      for (let i = 0; i < d.n; i++) {
        const id = key(d.x, i * size, size);
        const origin = source.get(id);
        expect(origin, `sample ${i} matches no source digit`).toBeDefined();
        expect(d.y[i]).toBe(origin!.k);
        for (let p = 0; p < size; p++) expect(Math.abs(d.x[i * size + p]! - digits[origin!.k]![origin!.from + p]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
        seen.add(id);
      }
    }
    expect(seen.size).toBe(16);
  });

  it('splits the package digits 8,000 / 2,000 with every class in proportion', () => {
    const digits = loadPackageDigits();
    const perClass = digits.map((d) => d.length / 784);
    expect(perClass.reduce((a, b) => a + b, 0)).toBe(10_000);
    const { train, test } = parseMnist(encodeMnist(digits));
    expect([train.n, test.n]).toEqual([8000, 2000]);
    expect(train.x.length).toBe(8000 * 784);
    expect(train.inputShape).toEqual([784]);
    const trainCounts = counts(train.y, 10);
    const testCounts = counts(test.y, 10);
    perClass.forEach((total, k) => {
      expect(trainCounts[k]! + testCounts[k]!).toBe(total);
      // A random 20 % of a class of ~1,000 has a standard deviation of about 13 samples.
      expect(Math.abs(testCounts[k]! - total / 5)).toBeLessThan(50);
    });
    // Shuffled, not grouped by class: the first 100 training digits hold every class.
    expect(new Set(train.y.subarray(0, 100)).size).toBe(10);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of train.x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 1]);
    // Each held-out digit is one of the package's digits of the same class.
    const byPixels = new Map<string, number>();
    digits.forEach((values, k) => {
      for (let s = 0; s < values.length / 784; s++) byPixels.set(key(values, s * 784, 784), k);
    });
    for (let i = 0; i < test.n; i++) expect(byPixels.get(key(test.x, i * 784, 784))).toBe(test.y[i]);
  });

  it('shuffles deterministically for a seed', () => {
    const digits = fakeDigits([6, 6, 6], 4);
    const a = encodeMnist(digits, { height: 2, width: 2, seed: 9 });
    const b = encodeMnist(digits, { height: 2, width: 2, seed: 9 });
    const c = encodeMnist(digits, { height: 2, width: 2, seed: 10 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(Array.from(permutation(50, 4))).toEqual(Array.from(permutation(50, 4)));
    expect(Array.from(permutation(50, 4)).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  describe('a damaged file fails with a clear error', () => {
    const good = encodeMnist(fakeDigits([3, 3], 4), { height: 2, width: 2 });
    it.each([
      ['truncated', good.slice(0, good.length - 1), /truncated: 69 bytes, the header announces 70/],
      ['cut inside the header', good.slice(0, 20), /shorter than the 40-byte header/],
      ['with trailing bytes', Uint8Array.from([...good, 0]), /trailing data: 71 bytes, the header announces 70/],
      ['with a flipped pixel', good.map((v, i) => (i === MNIST_HEADER_BYTES + 2 ? v ^ 1 : v)), /checksum/],
      ['of another format', Uint8Array.from(good).fill(0x41, 0, 8), /starts with "AAAAAAAA"/],
    ])('%s', (_, bytes, message) => {
      expect(() => parseMnist(bytes)).toThrow(message);
      expect(() => parseMnist(bytes)).toThrow(/node scripts\/build-data.mjs/);
    });
  });
});

describe('synthetic 2-D sets', () => {
  it.each(SYNTHETIC_SETS)('%s is balanced and the same for the same seed', (name) => {
    const a = synthetic(name, { n: 301, seed: 5 });
    const b = synthetic(name, { n: 301, seed: 5 });
    const c = synthetic(name, { n: 301, seed: 6 });
    expect(a.x).toEqual(b.x);
    expect(a.y).toEqual(b.y);
    expect(a.x).not.toEqual(c.x);
    expect([a.n, a.x.length, a.inputShape]).toEqual([301, 602, [2]]);
    const c0 = counts(a.y, a.classes);
    expect(Math.max(...c0) - Math.min(...c0)).toBeLessThanOrEqual(1);
    for (const v of a.x) expect(Math.abs(v)).toBeLessThan(1.6);
  });

  const noiseless = (name: (typeof SYNTHETIC_SETS)[number], classes?: number): Dataset =>
    synthetic(name, { n: 200, noise: 0, seed: 2, ...(classes ? { classes } : {}) });
  const points = (d: Dataset) => Array.from({ length: d.n }, (_, i) => [d.x[2 * i]!, d.x[2 * i + 1]!, d.y[i]!] as const);

  it('without noise, each set follows its documented geometry', () => {
    for (const [a, b, k] of points(noiseless('circles'))) expect(Math.hypot(a, b)).toBeCloseTo(k === 0 ? 0.9 : 0.45, 5);
    for (const [a, b, k] of points(noiseless('xor'))) {
      expect(Math.min(Math.abs(a), Math.abs(b))).toBeGreaterThanOrEqual(0.05 - 1e-6);
      expect(a * b > 0 ? 0 : 1).toBe(k);
    }
    for (const [a, b, k] of points(noiseless('gaussians', 5))) {
      const angle = (2 * Math.PI * k) / 5 + Math.PI / 4;
      expect(a).toBeCloseTo(0.6 * Math.cos(angle), 5);
      expect(b).toBeCloseTo(0.6 * Math.sin(angle), 5);
    }
    for (const [a, b, k] of points(noiseless('moons'))) {
      const sign = k === 0 ? 1 : -1;
      // (x/0.65·sign + 0.5, y/0.65·sign + 0.25) lies on the unit upper half circle.
      const [u, v] = [(sign * a) / 0.65 + 0.5, (sign * b) / 0.65 + 0.25];
      expect(Math.hypot(u, v)).toBeCloseTo(1, 5);
      expect(v).toBeGreaterThanOrEqual(-1e-6);
    }
    for (const [a, b, k] of points(noiseless('spiral', 3))) {
      const t = Math.hypot(a, b);
      const angle = (2 * Math.PI * k) / 3 + 3.5 * Math.PI * t;
      expect(a).toBeCloseTo(t * Math.cos(angle), 5);
      expect(b).toBeCloseTo(t * Math.sin(angle), 5);
    }
  });

  it('rejects bad options by name', () => {
    expect(() => synthetic('spiral', { n: 0 })).toThrow(/spiral: n must be an integer >= 1, got 0/);
    expect(() => synthetic('moons', { noise: -1 })).toThrow(/moons: noise/);
    expect(() => synthetic('gaussians', { classes: 1 })).toThrow(/classes must be an integer >= 2/);
    expect(() => synthetic('nope' as never)).toThrow(/unknown set 'nope'/);
  });
});

describe('batches', () => {
  const set = synthetic('gaussians', { n: 103, seed: 1 });
  const ids = (x: Float32Array) => Array.from({ length: x.length / 2 }, (_, i) => `${x[2 * i]},${x[2 * i + 1]}`);
  const all = ids(set.x);

  it.each([false, true])('visits every sample once per epoch (shuffle: %s), last partial batch included', (shuffle) => {
    const list = [...batches(set, 32, { shuffle, seed: 7 })];
    expect(list.map((b) => b.y.length)).toEqual([32, 32, 32, 7]);
    expect(list.length).toBe(batchCount(103, 32));
    const visited = list.flatMap((b) => ids(b.x));
    expect([...visited].sort()).toEqual([...all].sort());
    const labelOf = new Map(all.map((id, i) => [id, set.y[i]]));
    for (const b of list) ids(b.x).forEach((id, i) => expect(b.y[i]).toBe(labelOf.get(id)));
    if (!shuffle) expect(visited).toEqual(all);
    else expect(visited).not.toEqual(all);
  });

  it('drops the partial batch on request and shuffles by seed', () => {
    const dropped = [...batches(set, 32, { dropLast: true })];
    expect(dropped.map((b) => b.y.length)).toEqual([32, 32, 32]);
    expect(batchCount(103, 32, true)).toBe(3);
    const order = (seed: number) => [...batches(set, 10, { shuffle: true, seed })].flatMap((b) => ids(b.x));
    expect(order(1)).toEqual(order(1));
    expect(order(1)).not.toEqual(order(2));
  });

  it('rejects a bad batch size or an inconsistent dataset', () => {
    expect(() => [...batches(set, 0)]).toThrow(/batchSize must be an integer >= 1, got 0/);
    expect(() => [...batches({ ...set, n: 104 }, 8)]).toThrow(/x holds 206 values, n = 104 samples of \[2\] need 208/);
    const badLabel = { ...set, y: set.y.map((v, i) => (i === 4 ? 9 : v)) };
    expect(() => [...batches(badLabel, 8)]).toThrow(/label 9 of sample 4 is outside \[0, 4\)/);
  });
});
