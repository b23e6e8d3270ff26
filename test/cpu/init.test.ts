/**
 * nn.init against torch.nn.init's formulas: gains, fans, and the statistics of large draws
 * (bounds, mean, standard deviation) for given shapes and gains; seeded reproducibility; in-place
 * writes that reach a trainer's device copy; errors for bad arguments.
 */
import { describe, expect, it } from 'vitest';
import { Parameter } from '../../src/graph/parameter.js';
import { mulberry32 } from '../../src/data/random.js';
import * as init from '../../src/nn/init.js';

function stats(v: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) ** 2;
  let min = Infinity;
  let max = -Infinity;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { mean, std: Math.sqrt(sq / (v.length - 1)), min, max };
}

const param = (shape: number[]) => new Parameter(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, 'w');

/**
 * The draws of a uniform [lo, hi) or normal (mean, std) initialiser: mean within 5 standard
 * errors, std within 2 %, and, for uniform, every value inside and the extremes near the bounds.
 */
function expectUniform(v: Float32Array, lo: number, hi: number): void {
  const s = stats(v);
  const std = (hi - lo) / Math.sqrt(12);
  // Rounding to float32 is monotonic: a draw in [lo, hi) stays within the rounded bounds.
  expect(s.min).toBeGreaterThanOrEqual(Math.fround(lo));
  expect(s.max).toBeLessThanOrEqual(Math.fround(hi));
  expect(s.min - lo).toBeLessThan((hi - lo) * 1e-3);
  expect(hi - s.max).toBeLessThan((hi - lo) * 1e-3);
  expect(Math.abs(s.mean - (lo + hi) / 2)).toBeLessThan((5 * std) / Math.sqrt(v.length));
  expect(Math.abs(s.std / std - 1)).toBeLessThan(0.02);
}

function expectNormal(v: Float32Array, mean: number, std: number): void {
  const s = stats(v);
  expect(Math.abs(s.mean - mean)).toBeLessThan((5 * std) / Math.sqrt(v.length));
  expect(Math.abs(s.std / std - 1)).toBeLessThan(0.02);
  // The shape of a normal: about 68.27 % within one std, 95.45 % within two.
  const within = (k: number) => v.filter((x) => Math.abs(x - mean) < k * std).length / v.length;
  expect(Math.abs(within(1) - 0.6827)).toBeLessThan(0.01);
  expect(Math.abs(within(2) - 0.9545)).toBeLessThan(0.005);
}

describe('calculateGain', () => {
  it('gives torch.nn.init.calculate_gain values', () => {
    for (const n of ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'sigmoid'] as const) {
      expect(init.calculateGain(n)).toBe(1);
    }
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.sqrt(2), 15);
    expect(init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(1.3867504905630728, 15);
    expect(init.calculateGain('leaky_relu', 0)).toBeCloseTo(Math.sqrt(2), 15);
    expect(init.calculateGain('selu')).toBe(0.75);
  });

  it('rejects an unknown nonlinearity and a bad slope', () => {
    expect(() => init.calculateGain('swish' as init.Nonlinearity)).toThrow(/calculateGain: unsupported nonlinearity "swish"/);
    expect(() => init.calculateGain('leaky_relu', NaN)).toThrow(/negative slope NaN is not a valid number/);
  });
});

describe('calculateFanInAndFanOut', () => {
  it('follows torch: [out, in] and [out, in, kh, kw]', () => {
    expect(init.calculateFanInAndFanOut([256, 784])).toEqual({ fanIn: 784, fanOut: 256 });
    expect(init.calculateFanInAndFanOut([8, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 200 });
    expect(init.calculateFanInAndFanOut([4, 2, 3])).toEqual({ fanIn: 6, fanOut: 12 });
  });
  it('needs two dimensions', () => {
    expect(() => init.calculateFanInAndFanOut([10])).toThrow(/fewer than 2 dimensions, got \[10\]/);
  });
});

describe('initialisers: statistics of large draws', () => {
  it('uniform_(p, a, b)', () => {
    init.manualSeed(1);
    const p = param([400, 250]);
    expect(init.uniform_(p, -0.5, 2)).toBe(p);
    expectUniform(p.data, -0.5, 2);
    expectUniform(init.uniform_(param([100000]), 0, 1).data, 0, 1);
  });

  it('normal_(p, mean, std)', () => {
    init.manualSeed(2);
    expectNormal(init.normal_(param([300, 333]), 1.5, 0.3).data, 1.5, 0.3);
    expectNormal(init.normal_(param([99999])).data, 0, 1);
  });

  it('constant_, zeros_ and ones_', () => {
    expect(Array.from(init.constant_(param([2, 3]), 0.25).data)).toEqual(new Array(6).fill(0.25));
    expect(Array.from(init.zeros_(init.ones_(param([3]))).data)).toEqual([0, 0, 0]);
    expect(Array.from(init.ones_(param([2, 2])).data)).toEqual([1, 1, 1, 1]);
  });

  it('xavierUniform_: bound gain · √(6 / (fanIn + fanOut))', () => {
    init.manualSeed(3);
    const a = Math.sqrt(6 / (784 + 256));
    expectUniform(init.xavierUniform_(param([256, 784])).data, -a, a);
    const b = 5 / 3 * Math.sqrt(6 / (16 * 9 + 32 * 9));
    expectUniform(init.xavierUniform_(param([32, 16, 3, 3]), init.calculateGain('tanh')).data, -b, b);
  });

  it('xavierNormal_: std gain · √(2 / (fanIn + fanOut))', () => {
    init.manualSeed(4);
    expectNormal(init.xavierNormal_(param([500, 300])).data, 0, Math.sqrt(2 / 800));
    expectNormal(init.xavierNormal_(param([64, 32, 5, 5]), 2).data, 0, 2 * Math.sqrt(2 / (32 * 25 + 64 * 25)));
  });

  it('kaimingUniform_: bound gain · √(3 / fan), by default leaky_relu with a = 0 over fanIn', () => {
    init.manualSeed(5);
    expectUniform(init.kaimingUniform_(param([300, 400])).data, -Math.sqrt(6 / 400), Math.sqrt(6 / 400));
    const fanOut = 64 * 9;
    const bound = Math.sqrt(2 / (1 + 0.1 ** 2)) * Math.sqrt(3 / fanOut);
    expectUniform(init.kaimingUniform_(param([64, 128, 3, 3]), { a: 0.1, mode: 'fanOut' }).data, -bound, bound);
    // nn.Linear's default: kaiming_uniform_(w, a=√5) = U(−1/√fanIn, 1/√fanIn).
    expectUniform(init.kaimingUniform_(param([200, 500]), { a: Math.sqrt(5) }).data, -1 / Math.sqrt(500), 1 / Math.sqrt(500));
  });

  it('kaimingNormal_: std gain / √fan', () => {
    init.manualSeed(6);
    expectNormal(init.kaimingNormal_(param([300, 400]), { nonlinearity: 'relu' }).data, 0, Math.sqrt(2 / 400));
    expectNormal(init.kaimingNormal_(param([400, 250]), { mode: 'fanOut', nonlinearity: 'tanh' }).data, 0, 5 / 3 / Math.sqrt(400));
    expectNormal(init.kaimingNormal_(param([32, 64, 7, 7]), { nonlinearity: 'linear', a: 3 }).data, 0, 1 / Math.sqrt(64 * 49));
  });
});

describe('the module generator', () => {
  it('manualSeed makes every initialiser reproducible', () => {
    const draw = () => [
      init.uniform_(param([50]), -1, 1).data,
      init.normal_(param([51])).data,
      init.xavierNormal_(param([7, 9])).data,
      init.kaimingUniform_(param([5, 4, 3, 3])).data,
    ];
    init.manualSeed(42);
    const first = draw();
    init.manualSeed(42);
    expect(draw()).toEqual(first);
    init.manualSeed(43);
    expect(draw()[0]).not.toEqual(first[0]);
  });

  it('random() and uniform(n, bound) still draw as the layers expect', () => {
    init.manualSeed(9);
    const ref = mulberry32(9);
    expect(init.random()).toBe(ref());
    expect(Array.from(init.uniform(4, 0.5))).toEqual(Array.from({ length: 4 }, () => Math.fround((ref() * 2 - 1) * 0.5)));
  });

  it('normal_ uses Box–Muller on pairs of draws, an odd count included', () => {
    init.manualSeed(10);
    const got = init.normal_(param([3]), 0, 2).data;
    const ref = mulberry32(10);
    const pair = () => {
      const r = Math.sqrt(-2 * Math.log(1 - ref()));
      const t = 2 * Math.PI * ref();
      return [r * Math.cos(t), r * Math.sin(t)];
    };
    const want = [...pair(), pair()[0]!].map((z) => Math.fround(2 * z));
    expect(Array.from(got)).toEqual(want);
  });
});

describe('in place', () => {
  it('writes through Parameter.write, so a trainer-held parameter changes on the device too', () => {
    const p = param([2, 3]);
    const written: Float32Array[] = [];
    p.store = { read: async () => new Float32Array(6), write: (v) => written.push(v.slice()) };
    init.constant_(p, 3);
    init.xavierUniform_(p);
    expect(written.length).toBe(2);
    expect(Array.from(written[0]!)).toEqual(new Array(6).fill(3));
    expect(Array.from(written[1]!)).toEqual(Array.from(p.data));
  });

  it('a tensor with no element is left as it is, as torch does', () => {
    const p = new Parameter(new Float32Array(0), [0, 5], 'empty');
    expect(init.kaimingNormal_(p)).toBe(p);
    expect(p.data.length).toBe(0);
  });
});

describe('errors for bad arguments', () => {
  it('names the function, the parameter and the value', () => {
    expect(() => init.uniform_(param([2]), 1, 0)).toThrow(/nn\.init\.uniform_\('w' \[2\]\): needs a <= b, got a = 1, b = 0/);
    expect(() => init.uniform_(param([2]), 0, Infinity)).toThrow(/uniform_: b must be a finite number, got Infinity/);
    expect(() => init.normal_(param([2]), 0, -1)).toThrow(/normal_\('w' \[2\]\): needs std >= 0, got -1/);
    expect(() => init.normal_(param([2]), NaN)).toThrow(/normal_: mean must be a finite number, got NaN/);
    expect(() => init.xavierUniform_(param([5]))).toThrow(/fewer than 2 dimensions, got \[5\]/);
    expect(() => init.xavierNormal_(param([5, 5]), NaN)).toThrow(/xavierNormal_: gain must be a finite number, got NaN/);
    expect(() => init.kaimingUniform_(param([5, 5]), { mode: 'fan_avg' as init.FanMode })).toThrow(/kaimingUniform_: mode must be 'fanIn' or 'fanOut', got "fan_avg"/);
    expect(() => init.kaimingNormal_(param([5, 5]), { nonlinearity: 'softmax' as init.Nonlinearity })).toThrow(/unsupported nonlinearity "softmax"/);
    expect(() => init.kaimingNormal_(param([5, 5]), { a: Infinity })).toThrow(/kaimingNormal_: a must be a finite number, got Infinity/);
    expect(() => init.manualSeed(1.5)).toThrow(/manualSeed: seed must be an integer, got 1.5/);
  });
});
