import { describe, expect, it } from 'vitest';
import type { BufferView } from '../../src/backend/kernel.js';
import { view } from '../../src/backend/kernel.js';
import { mseLaunch, softmaxXentLaunch } from '../../src/kernels/loss.js';
import { cpuBackend, expectAllClose, randomArray, rng, runKernel } from '../harness.js';

const shape = (n: number): BufferView => view({ id: 0, byteLength: n * 4, label: 'shape' }, 0, n);

interface XentResult {
  loss: number;
  dlogits: Float32Array;
  correct: Float32Array;
}

async function xentTwin(logits: Float32Array, labels: Int32Array, cols: number, wg = 256): Promise<XentResult> {
  const rows = labels.length;
  const launch = softmaxXentLaunch(
    { logits: shape(rows * cols), labels: shape(rows), dlogits: shape(rows * cols), correct: shape(rows), loss: shape(1) },
    rows,
    cols,
  );
  const out = await runKernel(cpuBackend(), launch.kernel, {
    inputs: { logits, labels },
    outputs: { dlogits: rows * cols, correct: rows, loss: 1 },
    params: launch.params!,
    overrides: { wg },
    workgroups: launch.workgroups,
  });
  return { loss: out.loss![0]!, dlogits: out.dlogits as Float32Array, correct: out.correct as Float32Array };
}

/** torch.nn.CrossEntropyLoss (mean over rows), in float64. */
function xentReference(logits: ArrayLike<number>, labels: Int32Array, cols: number): number {
  let total = 0;
  for (let r = 0; r < labels.length; r++) {
    const row = Array.from({ length: cols }, (_, c) => logits[r * cols + c]!);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
    total += lse - row[labels[r]!]!;
  }
  return total / labels.length;
}

/** Central differences of `f` at every coordinate of `x`, in float64. */
function numericGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h: number): Float64Array {
  const p = Float64Array.from(x);
  return Float64Array.from(p, (v, i) => {
    p[i] = v + h;
    const up = f(p);
    p[i] = v - h;
    const down = f(p);
    p[i] = v;
    return (up - down) / (2 * h);
  });
}

function randomLabels(rows: number, cols: number): Int32Array {
  const next = rng((Math.random() * 2 ** 31) | 0);
  return Int32Array.from({ length: rows }, () => Math.floor(next() * cols));
}

describe('softmax_xent twin', () => {
  it.each([
    [1, 1],
    [1, 10],
    [7, 3],
    [33, 10],
    [129, 3],
    [7, 129],
  ])('B=%i, C=%i: loss and correct match float64, dlogits match finite differences', async (rows, cols) => {
    const logits = randomArray(rows * cols, -5, 5);
    const labels = randomLabels(rows, cols);
    const got = await xentTwin(logits, labels, cols);
    expectAllClose([got.loss], [xentReference(logits, labels, cols)], { label: 'loss' });
    const numeric = numericGradient((z) => xentReference(z, labels, cols), logits, 1e-5);
    expectAllClose(got.dlogits, numeric, { rtol: 1e-4, label: 'dlogits' });
    const correct = Float64Array.from(labels, (t, r) => {
      const row = Array.from(logits.subarray(r * cols, (r + 1) * cols));
      return row.indexOf(Math.max(...row)) === t ? 1 : 0;
    });
    expectAllClose(got.correct, correct, { rtol: 0, atol: 0, label: 'correct' });
  });

  it('gives the same loss for any workgroup size (rows strided over invocations)', async () => {
    const logits = randomArray(300 * 4, -3, 3);
    const labels = randomLabels(300, 4);
    const reference = xentReference(logits, labels, 4);
    for (const wg of [1, 32, 256]) expectAllClose([(await xentTwin(logits, labels, 4, wg)).loss], [reference]);
  });

  it('stays finite and exact with logits of 1e4', async () => {
    const logits = Float32Array.of(1e4, -1e4, 0, 1e4, 1e4, 1e4, -1e4, 0, 5e3);
    const labels = Int32Array.of(1, 2, 0);
    const got = await xentTwin(logits, labels, 3);
    expect(Number.isFinite(got.loss)).toBe(true);
    expect(got.dlogits.every(Number.isFinite)).toBe(true);
    // Row losses: 2e4, log 3, 1.5e4 (each softmax is one-hot or uniform, up to exp(-5e3) = 0).
    expectAllClose([got.loss], [(2e4 + Math.log(3) + 1.5e4) / 3], { label: 'loss' });
    const third = 1 / 3;
    const dlogits = [third, -third, 0, third / 3, third / 3, (-2 * third) / 3, -third, 0, third];
    expectAllClose(got.dlogits, dlogits, { label: 'dlogits' });
  });

  it('counts a prediction correct by the first maximum, as torch.argmax', async () => {
    const logits = Float32Array.of(1, 3, 3, 1, 3, 3, 2, 2, 2);
    const got = await xentTwin(logits, Int32Array.of(1, 2, 0), 3);
    expect(Array.from(got.correct)).toEqual([1, 0, 1]);
  });
});

describe('mse twin', () => {
  it.each([1, 7, 33, 129, 1000])('n=%i: loss matches float64, dpred matches finite differences', async (n) => {
    const pred = randomArray(n, -3, 3);
    const targets = randomArray(n, -3, 3);
    const launch = mseLaunch({ pred: shape(n), targets: shape(n), dpred: shape(n), loss: shape(1) }, n);
    const out = await runKernel(cpuBackend(), launch.kernel, {
      inputs: { pred, targets },
      outputs: { dpred: n, loss: 1 },
      params: launch.params!,
      workgroups: launch.workgroups,
    });
    const reference = (p: ArrayLike<number>): number => {
      let total = 0;
      for (let i = 0; i < n; i++) total += (p[i]! - targets[i]!) ** 2;
      return total / n;
    };
    expectAllClose(out.loss!, [reference(pred)], { rtol: n > 1000 ? 1e-4 : 1e-5, label: 'loss' });
    expectAllClose(out.dpred!, numericGradient(reference, pred, 1e-4), { rtol: 1e-4, label: 'dpred' });
  });
});

describe('loss launch helpers', () => {
  it('are one workgroup and check their shapes', () => {
    const ok = { logits: shape(6), labels: shape(2), dlogits: shape(6), correct: shape(2), loss: shape(1) };
    expect(softmaxXentLaunch(ok, 2, 3).workgroups).toEqual([1, 1, 1]);
    expect(softmaxXentLaunch(ok, 2, 3).params).toEqual({ rows: 2, cols: 3 });
    expect(() => softmaxXentLaunch(ok, 2, 0)).toThrow(/rows >= 1 and cols >= 1/);
    expect(() => softmaxXentLaunch({ ...ok, dlogits: shape(5) }, 2, 3)).toThrow(/'dlogits'.* holds 5/);
    const mseBindings = { pred: shape(5), targets: shape(5), dpred: shape(5), loss: shape(1) };
    expect(mseLaunch(mseBindings, 5).params).toEqual({ rows: 5, cols: 1 });
    expect(() => mseLaunch(mseBindings, 0)).toThrow(/at least one/);
  });
});
