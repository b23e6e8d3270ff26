import { describe, expect, it } from 'vitest';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { mulHi32, philox4x32, uniform24 } from '../../src/kernels/random.js';
import { gradients } from '../../src/graph/autodiff.js';
import { compileGraph } from '../../src/graph/compile.js';
import { DROPOUT, type DropoutAttrs, dropout } from '../../src/graph/ops/dropout.js';
import { Graph, type Node, STEP_INFO, type Tensor } from '../../src/graph/tensor.js';
import { dropoutLaunch } from '../../src/kernels/dropout.js';
import { withModuleScopes } from '../../src/nn/module.js';
import * as nn from '../../src/nn/index.js';
import { forwardBackward } from '../graph-runner.js';
import { cpuBackend, randomArray, rng } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

const MASK32 = 0xffffffffn;

/** Philox4x32-10 written from the paper's definition with BigInt products: the independent reference. */
function philoxReference(ctr: readonly number[], key: readonly number[]): number[] {
  let c = ctr.map(BigInt);
  let k = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * c[0]!;
    const p1 = 0xcd9e8d57n * c[2]!;
    c = [(p1 >> 32n) ^ c[1]! ^ k[0]!, p1 & MASK32, (p0 >> 32n) ^ c[3]! ^ k[1]!, p0 & MASK32];
    k = [(k[0]! + 0x9e3779b9n) & MASK32, (k[1]! + 0xbb67ae85n) & MASK32];
  }
  return c.map(Number);
}

/** The documented mask of element i: word (i >> 2, stream, step, 0) / (seed, "Desc"), lane i & 3, top 24 bits >= p. */
function keepReference(seed: number, step: number, stream: number, i: number, p: number): boolean {
  const word = philoxReference([Math.floor(i / 4), stream, step, 0], [seed, 0x44657363])[i % 4]!;
  return Math.floor(word / 256) / 2 ** 24 >= p;
}

// Random123 kat_vectors, philox4x32 at 10 rounds: counter, key, expected output.
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

/** Runs the dropout kernel on the CPU backend: y for x at (seed, step, stream). */
async function applyDropout(x: Float32Array, p: number, seed: number, step: number, stream: number): Promise<Float32Array> {
  const n = x.length;
  const launch = dropoutLaunch({ step_info: shape(4), input: shape(n), output: shape(n) }, n, p, stream);
  const backend = cpuBackend();
  const info = backend.createBuffer(16, 'step_info');
  const xs = backend.createBuffer(n * 4, 'x');
  const ys = backend.createBuffer(n * 4, 'y');
  backend.write(info, new Uint32Array([seed, step, 0, 0]));
  backend.write(xs, x);
  backend.write(ys, new Float32Array(n).fill(NaN));
  const program = backend.compile([{ ...launch, bindings: { step_info: view(info), input: view(xs), output: view(ys) } }], 'test');
  backend.run(program);
  return new Float32Array(await backend.read(ys));
}

const ones = (n: number) => new Float32Array(n).fill(1);

describe('Philox4x32-10 (CPU twin)', () => {
  it.each(KAT)('matches the Random123 known answer for counter %j, key %j', (ctr, key, expected) => {
    expect(Array.from(philox4x32(ctr, key))).toEqual(expected);
    expect(philoxReference(ctr, key)).toEqual(expected);
  });

  it('computes the high word of 32 x 32-bit products exactly', () => {
    const next = rng(5);
    const values = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    for (let i = 0; i < 2000; i++) values.push(Math.floor(next() * 2 ** 32));
    for (let i = 0; i < values.length; i++) {
      const a = values[i]!;
      const b = values[(i * 7 + 3) % values.length]!;
      expect(mulHi32(a, b), `${a} * ${b}`).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });

  it('maps words to exact 24-bit uniforms in [0, 1)', () => {
    expect(uniform24(0)).toBe(0);
    expect(uniform24(0xffffffff)).toBe(1 - 2 ** -24);
    expect(uniform24(0x80000000)).toBe(0.5);
    expect(Math.fround(uniform24(0xabcdef12))).toBe(uniform24(0xabcdef12));
  });
});

describe('dropout kernel (CPU twin)', () => {
  it.each([
    [0.3, 42, 7, 3],
    [0.5, 0xfffffff0, 123456, 0],
    [0.9, 1, 0, 11],
  ])('p=%f seed=%i step=%i stream=%i: mask and scale as documented', async (p, seed, step, stream) => {
    const x = randomArray(1003, 0.5, 2, 9);
    const y = await applyDropout(x, p, seed, step, stream);
    const scale = 1 / (1 - p);
    for (let i = 0; i < x.length; i++) {
      const expected = keepReference(seed, step, stream, i, Math.fround(p)) ? x[i]! * scale : 0;
      expect(Math.abs(y[i]! - expected), `element ${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(expected));
    }
  });

  it.each([0.1, 0.5, 0.9])('keeps a fraction 1 - p of 100k elements within 4 sigma (p=%f)', async (p) => {
    const n = 100_000;
    const y = await applyDropout(ones(n), p, 2024, 5, 1);
    const kept = y.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
    const sigma = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(kept - n * (1 - p))).toBeLessThan(4 * sigma);
  });

  it('draws new masks for another step, stream or seed and repeats them for the same triple', async () => {
    const n = 10_000;
    const mask = async (seed: number, step: number, stream: number) => (await applyDropout(ones(n), 0.5, seed, step, stream)).map((v) => (v !== 0 ? 1 : 0));
    const base = await mask(3, 10, 2);
    expect(Array.from(await mask(3, 10, 2))).toEqual(Array.from(base));
    for (const other of [await mask(3, 11, 2), await mask(3, 10, 3), await mask(4, 10, 2)]) {
      const differ = base.reduce((c, v, i) => c + (v !== other[i] ? 1 : 0), 0) / n;
      // Independent masks at p = 0.5 disagree on half of the elements.
      expect(differ).toBeGreaterThan(0.45);
      expect(differ).toBeLessThan(0.55);
    }
  });

  it('p = 0 is the identity and p = 1 gives zeros', async () => {
    const x = randomArray(77, -3, 3, 4);
    expect(Array.from(await applyDropout(x, 0, 1, 2, 3))).toEqual(Array.from(x));
    expect(Array.from(await applyDropout(x, 1, 1, 2, 3))).toEqual(new Array(77).fill(0));
  });

  it('rejects a probability outside [0, 1]', () => {
    expect(() => dropoutLaunch({ step_info: shape(4), input: shape(4), output: shape(4) }, 4, 1.5, 0)).toThrow(/probability must be in \[0, 1\], got 1.5/);
  });
});

describe('nn.Dropout', () => {
  it('validates p with a message naming it', () => {
    for (const p of [-0.1, 1.5, Number.NaN]) expect(() => new nn.Dropout(p)).toThrow(/Dropout: p must be a probability in \[0, 1\], got/);
    expect(new nn.Dropout().p).toBe(0.5);
    expect(new nn.Dropout(0.2).describe()).toBe('Dropout(p=0.2)');
  });

  it('is the identity in eval mode and adds no node', () => {
    const g = new Graph();
    g.training = false;
    const x = g.input('x', [2, 5]);
    const before = g.nodes.length;
    expect(new nn.Dropout(0.5).forward(x)).toBe(x);
    expect(g.nodes.length).toBe(before);
    expect(g.inputs.has(STEP_INFO)).toBe(false);

    const h = new Graph();
    const xh = h.input('x', [2, 5]);
    expect(new nn.Dropout(0.5).eval().forward(xh)).toBe(xh);
    expect(new nn.Dropout(0).forward(xh)).toBe(xh);
    expect(h.nodes.length).toBe(1);
  });

  it('gives each layer its own stream and reuses it in backward', () => {
    nn.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Dropout(0.5), new nn.Linear(4, 4), new nn.Dropout(0.2), new nn.Linear(4, 2));
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const out = withModuleScopes(model, () => model.forward(x));
    const { loss } = new nn.MSELoss().apply(out, g.input('y', [2, 2]));
    gradients(g, loss, model.parameters().map((p) => g.param(p)));
    const nodes = g.nodes.filter((n) => n.op === DROPOUT) as Node<DropoutAttrs>[];
    const streams = nodes.map((n) => `${n.attrs.stream}:${n.attrs.p}`);
    // Forward of both layers, then backward in reverse order; the first layer's input needs no gradient.
    expect(streams).toEqual(['0:0.5', '1:0.2', '1:0.2', '0:0.5']);
    expect(nodes[0]!.label).toBe('1.Dropout(p=0.5)');
  });

  it('backward multiplies by the forward mask and scale: dx = dy ⊙ (y / x)', async () => {
    const n = 517;
    const p = 0.4;
    const g = new Graph();
    const x = g.input('x', [n]);
    const dy = g.input('dy', [n]);
    const y = dropout(x, p, 6);
    const [dx] = DROPOUT.backward!(g, y.node as Node<DropoutAttrs>, [dy], [true, false]) as [Tensor];
    const backend = cpuBackend();
    const xv = randomArray(n, 0.5, 2, 1).map((v, i) => (i % 2 ? -v : v));
    const dyv = randomArray(n, -1, 1, 2);
    const bind = (data: Float32Array | Int32Array): BufferView => {
      const b = backend.createBuffer(data.byteLength, 'b');
      backend.write(b, data);
      return view(b);
    };
    const bound = new Map<Tensor, BufferView>([
      [x, bind(xv)],
      [dy, bind(dyv)],
      [g.inputs.get(STEP_INFO)!, bind(new Int32Array([99, 4, 0, 0]))],
    ]);
    const compiled = compileGraph(backend, { graph: g, bound, outputs: [y, dx], label: 'test' });
    backend.run(backend.compile(compiled.launches, 'test'));
    const read = async (t: Tensor) => {
      const v = compiled.views.get(t)!;
      return new Float32Array(await backend.read(v.buffer, v.offset * 4, v.length * 4));
    };
    const [yv, dxv] = [await read(y), await read(dx)];
    let zeros = 0;
    for (let i = 0; i < n; i++) {
      const expected = dyv[i]! * (yv[i]! / xv[i]!);
      expect(Math.abs(dxv[i]! - expected), `element ${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(expected) + 1e-12);
      if (yv[i] === 0) zeros++;
    }
    expect(zeros).toBeGreaterThan(0.3 * n);
    expect(zeros).toBeLessThan(0.5 * n);
  });

  it('gradients through a model with dropout match central finite differences at a fixed seed and step', async () => {
    nn.manualSeed(4);
    const model = new nn.Sequential(new nn.Linear(4, 6), new nn.Tanh(), new nn.Dropout(0.3), new nn.Linear(6, 5), new nn.Dropout(0.5), new nn.Linear(5, 3));
    const batch = 5;
    const x = randomArray(batch * 4, -1, 1, 21);
    const y = Int32Array.from({ length: batch }, (_, i) => i % 3);
    const backend = cpuBackend();
    const at = { seed: 7, step: 2 };
    const run = () => forwardBackward(backend, model, new nn.CrossEntropyLoss(), x, [4], y, at);
    const base = await run();
    const h = 1e-2;
    let checked = 0;
    for (const [name, p] of model.namedParameters()) {
      const analytic = base.grads[name]!;
      for (let i = 0; i < p.numel; i++) {
        const original = p.data[i]!;
        p.data[i] = original + h;
        const up = (await run()).loss;
        p.data[i] = original - h;
        const down = (await run()).loss;
        p.data[i] = original;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(numeric - analytic[i]!), `${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        checked++;
      }
    }
    expect(checked).toBe(model.parameters().reduce((a, p) => a + p.numel, 0));
    // Another step draws other masks, so the same parameters give another loss.
    const later = await forwardBackward(backend, model, new nn.CrossEntropyLoss(), x, [4], y, { seed: 7, step: 3 });
    expect(later.loss).not.toBe(base.loss);
  });

  it('p = 1 zeroes the output and every gradient behind it', async () => {
    nn.manualSeed(2);
    const model = new nn.Sequential(new nn.Linear(3, 4), new nn.Dropout(1), new nn.Linear(4, 2));
    const r = await forwardBackward(cpuBackend(), model, new nn.MSELoss(), randomArray(6), [3], randomArray(4), { seed: 1, step: 1 });
    for (const name of ['0.weight', '0.bias', '2.weight']) expect(r.grads[name]!.every((v) => v === 0), name).toBe(true);
    expect(r.output.every((v, i) => v === (model.layers[2] as nn.Linear).bias!.data[i % 2])).toBe(true);
  });
});
