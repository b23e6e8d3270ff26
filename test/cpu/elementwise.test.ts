import { describe, expect, it } from 'vitest';
import type { BufferView, Launch, TypedArray } from '../../src/backend/kernel.js';
import { grid1d, view } from '../../src/backend/kernel.js';
import {
  addLaunch,
  addScaledLaunch,
  axpyLaunch,
  copyLaunch,
  fillLaunch,
  mulLaunch,
  scaleLaunch,
} from '../../src/kernels/elementwise.js';
import { cpuBackend, expectAllClose, randomArray, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

interface Case {
  make: (n: number) => Launch;
  /** The float64 definition, from the inputs by binding name. */
  reference: (inputs: Record<string, Float32Array>, i: number) => number;
  /** The binding that holds the result. */
  result: string;
}

const S = 0.37;

const unary = (n: number) => ({ x: shape(n), out: shape(n) });
const binary = (n: number) => ({ a: shape(n), b: shape(n), out: shape(n) });

const cases: Record<string, Case> = {
  fill: { make: (n) => fillLaunch({ out: shape(n) }, n, -2.5), reference: () => -2.5, result: 'out' },
  copy: { make: (n) => copyLaunch(unary(n), n), reference: (v, i) => v.x![i]!, result: 'out' },
  add: { make: (n) => addLaunch(binary(n), n), reference: (v, i) => v.a![i]! + v.b![i]!, result: 'out' },
  mul: { make: (n) => mulLaunch(binary(n), n), reference: (v, i) => v.a![i]! * v.b![i]!, result: 'out' },
  scale: { make: (n) => scaleLaunch(unary(n), n, S), reference: (v, i) => Math.fround(S) * v.x![i]!, result: 'out' },
  add_scaled: {
    make: (n) => addScaledLaunch(binary(n), n, S),
    reference: (v, i) => v.a![i]! + Math.fround(S) * v.b![i]!,
    result: 'out',
  },
  axpy: {
    make: (n) => axpyLaunch({ x: shape(n), y: shape(n) }, n, S),
    reference: (v, i) => v.y![i]! + Math.fround(S) * v.x![i]!,
    result: 'y',
  },
};

/** Runs the twin with `extra` poisoned elements past n in every output, to check it stops at n. */
async function runTwin(
  launch: Launch,
  n: number,
  extra = 0,
): Promise<{ inputs: Record<string, Float32Array>; out: Record<string, TypedArray> }> {
  const inputs: Record<string, Float32Array> = {};
  const outputs: Record<string, number> = {};
  for (const b of launch.kernel.bindings) {
    if (b.access === 'read') inputs[b.name] = randomArray(n, -3, 3);
    else if (b.name === 'y') inputs[b.name] = Float32Array.of(...randomArray(n, -3, 3), ...Array(extra).fill(NaN));
    else outputs[b.name] = n + extra;
  }
  const out = await runKernel(cpuBackend(), launch.kernel, {
    inputs,
    outputs,
    params: launch.params!,
    workgroups: launch.workgroups,
  });
  return { inputs, out };
}

describe.each(Object.keys(cases))('%s twin', (name) => {
  const c = cases[name]!;

  it.each([1, 7, 33, 129, 1000])('matches the float64 definition at n=%i', async (n) => {
    const { inputs, out } = await runTwin(c.make(n), n);
    const expected = Float64Array.from({ length: n }, (_, i) => c.reference(inputs, i));
    expectAllClose(out[c.result]!, expected, { label: name });
  });

  it('writes nothing at or past n', async () => {
    const { out } = await runTwin(c.make(5), 5, 3);
    expect(Array.from(out[c.result]!.subarray(5)).every(Number.isNaN)).toBe(true);
  });
});

describe('elementwise launch helpers', () => {
  it('plan grid1d workgroups of 256, split over y past 65535 groups', () => {
    for (const n of [1, 256, 257, 70_000, 65_535 * 256 + 1]) {
      expect(addLaunch({ a: shape(n), b: shape(n), out: shape(n) }, n).workgroups).toEqual(grid1d(n, 256));
    }
    expect(copyLaunch({ x: shape(65_535 * 256 + 1), out: shape(65_535 * 256 + 1) }, 65_535 * 256 + 1).workgroups[1]).toBe(2);
  });

  it('carry the scalar, the label and the bindings', () => {
    const bindings = { a: shape(4), b: shape(4), out: shape(4) };
    const launch = addScaledLaunch(bindings, 4, 0.5, 'grad/accumulate');
    expect(launch.params).toEqual({ n: 4, value: 0.5 });
    expect(launch.label).toBe('grad/accumulate');
    expect(launch.bindings).toBe(bindings);
  });

  it('reject a binding shorter than n, naming it', () => {
    expect(() => mulLaunch({ a: shape(4), b: shape(3), out: shape(4) }, 4)).toThrow(/'b'.* holds 3 elements, needs 4/);
  });

  it('compile into one CPU program: out = a + b, then y += 2 out', async () => {
    const backend = cpuBackend();
    const n = 33;
    const buffer = (data: Float32Array) => {
      const b = backend.createBuffer(n * 4, 'test');
      backend.write(b, data);
      return view(b);
    };
    const [a, b, y] = [randomArray(n), randomArray(n), randomArray(n)];
    const views = { a: buffer(a), b: buffer(b), out: buffer(new Float32Array(n)), y: buffer(y) };
    const program = backend.compile(
      [addLaunch({ a: views.a, b: views.b, out: views.out }, n), axpyLaunch({ x: views.out, y: views.y }, n, 2)],
      'test',
    );
    backend.run(program);
    const result = new Float32Array(await backend.read(views.y.buffer));
    expectAllClose(result, Float64Array.from({ length: n }, (_, i) => y[i]! + 2 * (a[i]! + b[i]!)));
  });
});
