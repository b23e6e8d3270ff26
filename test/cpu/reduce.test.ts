import { describe, expect, it } from 'vitest';
import type { BufferView, Launch } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { colSumLaunch, meanLaunch, sumLaunch, sumSquaresLaunch } from '../../src/kernels/reduce.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

async function runTwin(launch: Launch, x: Float32Array, outLength: number, overrides = {}): Promise<Float32Array> {
  const out = await runKernel(cpuBackend(), launch.kernel, {
    inputs: { x },
    outputs: { out: outLength },
    params: launch.params!,
    overrides,
    workgroups: launch.workgroups,
  });
  return out.out as Float32Array;
}

/**
 * Float32 summation error grows with the magnitudes added, not with the result, so the tolerance
 * is relative to sum |x| (the result may cancel to nearly nothing).
 */
function tolerance(absSum: number, n: number): { rtol: number; atol: number } {
  return { rtol: n > 1000 ? 1e-4 : 1e-5, atol: 1e-6 + 1e-6 * absSum };
}

describe('col_sum twin', () => {
  it.each([
    [1, 1],
    [7, 33],
    [33, 7],
    [129, 10],
    [1000, 3],
  ])('matches the float64 column sums of [%i, %i]', async (rows, cols) => {
    const x = randomArray(rows * cols, -2, 2);
    const scale = 0.25;
    const got = await runTwin(colSumLaunch({ x: shape(rows * cols), out: shape(cols) }, rows, cols, scale), x, cols);
    const expected = new Float64Array(cols);
    const absSums = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        expected[c] += scale * x[r * cols + c]!;
        absSums[c] += scale * Math.abs(x[r * cols + c]!);
      }
    }
    const absSum = Math.max(...absSums);
    expectAllClose(got, expected, tolerance(absSum, rows));
  });
});

const totals = {
  sum: { make: (n: number) => sumLaunch({ x: shape(n), out: shape(1) }, n), term: (v: number) => v, scale: () => 1 },
  mean: {
    make: (n: number) => meanLaunch({ x: shape(n), out: shape(1) }, n),
    term: (v: number) => v,
    scale: (n: number) => 1 / n,
  },
  sum_squares: {
    make: (n: number) => sumSquaresLaunch({ x: shape(n), out: shape(1) }, n, 0.5),
    term: (v: number) => v * v,
    scale: () => 0.5,
  },
};

describe.each(Object.keys(totals) as (keyof typeof totals)[])('%s twin', (name) => {
  const { make, term, scale } = totals[name];

  it.each([
    [1, 256],
    [7, 256],
    [129, 256],
    [1000, 256],
    [5000, 256],
    [1000, 32],
    [300, 1],
  ])('matches the float64 definition at n=%i with wg=%i', async (n, wg) => {
    const x = randomArray(n, -2, 2);
    const got = await runTwin(make(n), x, 1, { wg });
    let expected = 0;
    let absSum = 0;
    for (const v of x) {
      expected += term(v);
      absSum += Math.abs(term(v));
    }
    expectAllClose(got, [expected * scale(n)], tolerance(absSum * scale(n), n));
  });
});

describe('reduce launch helpers', () => {
  it('run sums as one workgroup and col_sum as one invocation per column', () => {
    expect(sumLaunch({ x: shape(10_000), out: shape(1) }, 10_000).workgroups).toEqual([1, 1, 1]);
    expect(colSumLaunch({ x: shape(600), out: shape(300) }, 2, 300).workgroups).toEqual([2, 1, 1]);
  });

  it('pass the mean as a sum scaled by 1/n, and refuse an empty mean', () => {
    expect(meanLaunch({ x: shape(8), out: shape(1) }, 8).params).toEqual({ rows: 8, cols: 1, scale: 1 / 8 });
    expect(() => meanLaunch({ x: shape(8), out: shape(1) }, 0)).toThrow(/at least one element/);
  });

  it('reject bindings that are too short', () => {
    expect(() => colSumLaunch({ x: shape(11), out: shape(4) }, 3, 4)).toThrow(/'x'.* holds 11 elements, needs 12/);
    expect(() => sumLaunch({ x: shape(4), out: shape(0) }, 4)).toThrow(/'out'.* holds 0/);
  });
});
