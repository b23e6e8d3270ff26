import { describe, expect, it } from 'vitest';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { cat } from '../../src/graph/ops/shape.js';
import { Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { cpuBackend, expectAllClose } from '../harness.js';
import { expectGradientsMatch, inputValues, runOp } from '../op-check.js';
import { broadcastIndex, MATMUL_CASES, POINTWISE_CASES, VIEW_CASES } from '../tensor-cases.js';

describe('Tensor API gradients match finite differences (CPU twins)', () => {
  it.each([...POINTWISE_CASES, ...VIEW_CASES, ...MATMUL_CASES])('$name', async (c) => {
    await expectGradientsMatch(c.build, c.inputs, { seed: 7 });
  });
});

describe('Tensor API values against plain loops', () => {
  it('broadcast arithmetic', async () => {
    const inputs = [{ shape: [3, 1, 4] }, { shape: [5, 1] }];
    const values = inputValues(inputs, 3);
    const { outputs } = await runOp(cpuBackend(), (a, b) => a!.mul(b!).sub(b!.exp()), inputs, values);
    const [a, b] = values as [Float32Array, Float32Array];
    const out = [3, 5, 4];
    const want = Array.from({ length: 60 }, (_, i) => {
      const x = a[broadcastIndex(out, [3, 1, 4], i)]!;
      const y = b[broadcastIndex(out, [5, 1], i)]!;
      return Math.fround(x * y) - Math.fround(Math.exp(y));
    });
    expectAllClose(outputs[0]!, want, { rtol: 1e-6 });
  });

  it('permute copies elements where torch puts them', async () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const { outputs } = await runOp(cpuBackend(), (a) => a!.permute(2, 0, 1).contiguous(), [{ shape: [2, 3, 4], data }], [data]);
    // out[k, i, j] = a[i, j, k]
    const want: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) want.push(i * 12 + j * 4 + k);
    expect(Array.from(outputs[0]!)).toEqual(want);
  });

  it('narrow, cat and split place elements like torch', async () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const build = (a?: Tensor) => [a!.narrow(1, 1, 2), a!.split(2, 0)[1]!];
    const { outputs } = await runOp(cpuBackend(), build, [{ shape: [3, 4], data }], [data]);
    expect(Array.from(outputs[0]!)).toEqual([1, 2, 5, 6, 9, 10]);
    expect(Array.from(outputs[1]!)).toEqual([8, 9, 10, 11]);
  });

  it('batched matmul with broadcast batch dims', async () => {
    const inputs = [{ shape: [2, 1, 3, 4] }, { shape: [5, 4, 2] }];
    const values = inputValues(inputs, 5);
    const { outputs } = await runOp(cpuBackend(), (a, b) => a!.matmul(b!), inputs, values);
    const [a, b] = values as [Float32Array, Float32Array];
    const want: number[] = [];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 5; j++) {
        for (let r = 0; r < 3; r++) {
          for (let c = 0; c < 2; c++) {
            let s = 0;
            for (let k = 0; k < 4; k++) s += a[i * 12 + r * 4 + k]! * b[j * 8 + k * 2 + c]!;
            want.push(s);
          }
        }
      }
    }
    expectAllClose(outputs[0]!, want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('comparisons, where and clamp', async () => {
    const data = Float32Array.from([-2, -0.5, 0, 0.5, 2]);
    const build = (x?: Tensor) => {
      x = x!;
      return [x.gt(0), x.le(0), x.eq(0.5), x.clamp(-1, 1), x.where(x.gt(0), -1), x.maskedFill(x.lt(0), 9)];
    };
    const { outputs } = await runOp(cpuBackend(), build, [{ shape: [5], data }], [data]);
    expect(outputs.map((o) => Array.from(o))).toEqual([
      [0, 0, 0, 1, 1],
      [1, 1, 1, 0, 0],
      [0, 0, 0, 1, 0],
      [-1, -0.5, 0, 0.5, 1],
      [-1, -1, -1, 0.5, 2],
      [9, 9, 0, 0.5, 2],
    ]);
  });
});

describe('a loss computed with tensor ops', () => {
  it('gets the seed gradient as a tensor of ones (3 · sum(a · b) and a sum of two losses)', async () => {
    const a = Float32Array.from([1, -2, 3]);
    const b = Float32Array.from([0.5, 4, -1]);
    const g = new Graph();
    const pa = new Parameter(a.slice(), [3], 'a');
    const pb = new Parameter(b.slice(), [3], 'b');
    const ta = g.param(pa);
    const tb = g.param(pb);
    const loss = ta.mul(tb).sum().mul(3).add(ta.sum());
    const [da, db] = gradients(g, loss, [ta, tb]);
    const backend = cpuBackend();
    const buf = (v: Float32Array) => {
      const x = backend.createBuffer(256, 'p');
      backend.write(x, v);
      return { buffer: x, offset: 0, length: v.length };
    };
    const bound = new Map([[ta, buf(a)], [tb, buf(b)]]);
    const compiled = compileGraph(backend, { graph: g, bound, outputs: [loss, da!, db!], label: 'seed', poison: true });
    backend.run(backend.compile(compiled.launches, 'seed'));
    const read = async (t: Tensor) => Array.from(new Float32Array(await backend.read(compiled.views.get(t)!.buffer, compiled.views.get(t)!.offset * 4, t.numel * 4)));
    expect(await read(loss)).toEqual([3 * (0.5 - 8 - 3) + 2]);
    expect(await read(da!)).toEqual([3 * 0.5 + 1, 3 * 4 + 1, 3 * -1 + 1]);
    expect(await read(db!)).toEqual([3, -6, 9]);
  });
});

describe('views are read in place', () => {
  const countOps = (build: (g: Graph) => void): Record<string, number> => {
    const g = new Graph();
    build(g);
    const counts: Record<string, number> = {};
    for (const n of g.nodes) counts[n.op.name] = (counts[n.op.name] ?? 0) + 1;
    return counts;
  };

  it('a transposed matmul operand is not copied', () => {
    const ops = countOps((g) => g.input('a', [3, 5]).transpose(0, 1).matmul(g.input('b', [4, 3]).t()));
    expect(ops.contiguous).toBeUndefined();
    expect(ops.matmul).toBe(1);
  });

  it('broadcast and transposed operands of pointwise ops are not copied', () => {
    const ops = countOps((g) => g.input('a', [3, 4]).transpose(0, 1).add(g.input('b', [3]).expand(4, 3)).exp());
    expect(ops.contiguous).toBeUndefined();
  });

  it('a reshape of a transpose copies once', () => {
    const ops = countOps((g) => g.input('a', [3, 4]).transpose(0, 1).reshape(12));
    expect(ops.contiguous).toBe(1);
  });
});

describe('shape errors name the op and the shapes', () => {
  const g = () => new Graph();
  it.each([
    ['broadcast', () => g().input('a', [3, 4]).add(g().input('b', [5])), /belongs to another graph/],
    ['mismatched broadcast', () => { const h = g(); return h.input('a', [3, 4]).add(h.input('b', [5])); }, /shapes \[3, 4\] and \[5\] do not broadcast/],
    ['reshape', () => g().input('a', [3, 4]).reshape(5, 2), /cannot reshape \[3, 4\] \(12 elements\) to \[5, 2\]/],
    ['permute', () => g().input('a', [3, 4]).permute(0, 0), /not a permutation/],
    ['dim out of range', () => g().input('a', [3, 4]).transpose(0, 2), /dim1 2 is out of range for a tensor of rank 2/],
    ['narrow', () => g().input('a', [3, 4]).narrow(1, 3, 2), /narrow\(dim 1, start 3, length 2\) is out of range for \[3, 4\]/],
    ['expand', () => g().input('a', [3, 4]).expand(3, 5), /cannot expand \[3, 4\] to \[3, 5\]/],
    ['matmul', () => { const h = g(); return h.input('a', [3, 4]).matmul(h.input('b', [3, 4])); }, /inner dims 4 and 3 differ/],
    ['view of a non-contiguous tensor', () => g().input('a', [3, 4]).t().view(12), /view of a non-contiguous/],
    ['cat', () => { const h = g(); return cat([h.input('a', [2, 3]), h.input('b', [2, 4])], 0); }, /equal in every other dim/],
  ] as const)('%s', (_name, make, message) => {
    expect(make).toThrow(message);
  });
});
