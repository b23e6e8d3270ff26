/**
 * Optimizers on the CPU backend against PyTorch 1.13 trajectories (test/fixtures/optim.json, made
 * by gen_optim.py), Lion and GradientNormLR-style scaling against float64 formulas written here,
 * argument validation, and state dict round trips.
 */
import { describe, expect, it } from 'vitest';
import { Parameter } from '../../src/graph/parameter.js';
import { Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, planUpdate, RMSprop, SGD } from '../../src/optim/index.js';
import { cpuBackend, expectAllClose } from '../harness.js';
import { buildCase, drive, driveCase, type FixtureCase, fixture, freshParams, lossGradient } from '../optim-driver.js';

const runCase = (c: FixtureCase) => driveCase(cpuBackend(), c);

describe('optimizers on the CPU backend reproduce torch 1.13', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const run = await runCase(c);
    run.trajectory.forEach((values, s) => {
      expectAllClose(values, c.trajectory[s]!, { rtol: 1e-6, atol: 1e-7, label: `${c.name} step ${s + 1}` });
    });
    expect(run.paddingMax).toBe(0);
  });
});

/** Float64 reference of Lion (Chen et al. 2023, Algorithm 2) on the fixture's loss. */
function lionReference(lr: number, [b1, b2]: [number, number], wd: number, steps: number): number[][] {
  const w = fixture.init.flat();
  const a = fixture.a.flat();
  const b = fixture.b.flat();
  const m = w.map(() => 0);
  const out: number[][] = [];
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < w.length; i++) {
      const g = a[i]! * w[i]! + b[i]! * Math.cos(w[i]!);
      const c = b1 * m[i]! + (1 - b1) * g;
      w[i] = w[i]! - lr * (Math.sign(c) + wd * w[i]!);
      m[i] = b2 * m[i]! + (1 - b2) * g;
    }
    out.push([...w]);
  }
  return out;
}

describe('Lion', () => {
  it.each([
    [0.01, [0.9, 0.99], 0],
    [0.02, [0.8, 0.95], 0.1],
  ] as const)('lr %f betas %j weightDecay %f matches the float64 formula', async (lr, betas, weightDecay) => {
    const params = freshParams();
    const optimizer = new Lion(params, { lr, betas: [...betas], weightDecay });
    const run = await drive(cpuBackend(), optimizer, { steps: 20, gradient: lossGradient(params) });
    const expected = lionReference(lr, [...betas], weightDecay, 20);
    run.trajectory.forEach((v, s) => expectAllClose(v, expected[s]!, { rtol: 1e-5, atol: 1e-6, label: `step ${s + 1}` }));
    expect(run.paddingMax).toBe(0);
  });
});

describe('gradient statistics', () => {
  const l1 = 0.02;
  const l2 = 0.1;
  /** ||g + l1*sign(w) + l2*w|| (2 or inf) and the penalty, in float64 at the given values. */
  function reference(values: number[], normInf: boolean): [number, number] {
    const a = fixture.a.flat();
    const b = fixture.b.flat();
    let norm = 0;
    let penalty = 0;
    values.forEach((w, i) => {
      const g = a[i]! * w + b[i]! * Math.cos(w) + l1 * Math.sign(w) + l2 * w;
      norm = normInf ? Math.max(norm, Math.abs(g)) : norm + g * g;
      penalty += l1 * Math.abs(w) + (l2 / 2) * w * w;
    });
    return [normInf ? norm : Math.sqrt(norm), penalty];
  }

  it.each([2, 'inf'] as const)('computeNorm reports the %s-norm and the penalty', async (normType) => {
    const params = freshParams();
    const optimizer = new SGD(params, { lr: 0.05 });
    const run = await drive(cpuBackend(), optimizer, {
      steps: 5,
      gradient: lossGradient(params),
      update: { computeNorm: true, normType, l1, l2 },
    });
    const before = [fixture.init.flat(), ...run.trajectory.map((t) => [...t])];
    run.stats.forEach((stats, s) => {
      const [norm, penalty] = reference(before[s]!, normType === 'inf');
      expectAllClose([stats[0]!, stats[1]!, stats[2]!, stats[3]!], [norm, 1, 1, penalty], { rtol: 1e-5, label: `step ${s + 1}` });
    });
  });

  it('gradNormLR scales the rate by 1 / max(norm, eps)^gamma', async () => {
    const params = freshParams();
    const lr = 0.1;
    const gamma = 0.5;
    const optimizer = new SGD(params, { lr });
    const run = await drive(cpuBackend(), optimizer, {
      steps: 10,
      gradient: lossGradient(params),
      update: { gradNormLR: { gamma, eps: 1e-3 } },
    });
    const a = fixture.a.flat();
    const b = fixture.b.flat();
    const w = fixture.init.flat();
    for (let s = 0; s < 10; s++) {
      const g = w.map((x, i) => a[i]! * x + b[i]! * Math.cos(x));
      const norm = Math.hypot(...g);
      const step = lr / Math.max(norm, 1e-3) ** gamma;
      g.forEach((gi, i) => (w[i] = w[i]! - step * gi));
      expectAllClose(run.trajectory[s]!, w, { rtol: 1e-5, atol: 1e-6, label: `step ${s + 1}` });
      expect(run.stats[s]![2]).toBeCloseTo(1 / Math.max(run.stats[s]![0]!, 1e-3) ** gamma, 5);
    }
  });
});

describe('validation', () => {
  const p = () => [new Parameter(new Float32Array(3), [3], 'w')];
  it.each([
    [() => new Adam(p(), { lr: -1 }), /Adam: invalid lr: -1 \(must be >= 0\)/],
    [() => new Adam(p(), { betas: [1.5, 0.9] }), /Adam: invalid betas\[0\]: 1.5/],
    [() => new Adam(p(), { betas: [0.9, 1] }), /Adam: invalid betas\[1\]: 1 /],
    [() => new Adam(p(), { eps: -1e-8 }), /Adam: invalid eps: -1e-8/],
    [() => new AdamW(p(), { weightDecay: -0.1 }), /AdamW: invalid weightDecay: -0.1/],
    [() => new Adam(p(), { amsgrad: 1 as unknown as boolean }), /Adam: invalid amsgrad: 1 \(must be a boolean\)/],
    [() => new SGD(p(), {}), /SGD: lr is required/],
    [() => new SGD(p(), { lr: 0.1, momentum: -0.5 }), /SGD: invalid momentum: -0.5/],
    [() => new SGD(p(), { lr: 0.1, nesterov: true }), /SGD: nesterov momentum requires momentum > 0 and dampening = 0/],
    [() => new SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /dampening 0.1/],
    [() => new Adagrad(p(), { lrDecay: -1 }), /Adagrad: invalid lrDecay: -1/],
    [() => new Adagrad(p(), { initialAccumulatorValue: -1 }), /Adagrad: invalid initialAccumulatorValue: -1/],
    [() => new Adadelta(p(), { rho: 1.5 }), /Adadelta: invalid rho: 1.5 \(must be in \[0, 1\]\)/],
    [() => new RMSprop(p(), { alpha: -0.1 }), /RMSprop: invalid alpha: -0.1/],
    [() => new NAdam(p(), { momentumDecay: -1 }), /NAdam: invalid momentumDecay: -1/],
    [() => new Adamax(p(), { lr: Number.NaN }), /Adamax: invalid lr: NaN/],
    [() => new Lion(p(), { betas: [0.9] as unknown as [number, number] }), /Lion: invalid betas: \[0.9\] \(must be a pair/],
    [() => new Adam(p(), { l1: -1 }), /Adam: invalid l1: -1/],
    [() => new Adam(p(), { beta1: 0.9 }), /Adam: unknown option 'beta1'/],
    [() => new Adam([]), /Adam: got an empty parameter list/],
    [() => new Adam([{ params: p() }, { params: p(), lr: -2 }]), /Adam: invalid lr in param group 1: -2/],
    [
      () => {
        const shared = p();
        return new Adam([{ params: shared }, { params: shared }]);
      },
      /Adam: parameter 'w' appears more than once/,
    ],
  ] as const)('rejects bad options (%#)', (make, message) => {
    expect(make).toThrow(message);
  });

  it('planUpdate rejects bad options and layouts', () => {
    const backend = cpuBackend();
    const opt = new SGD(p(), { lr: 0.1 });
    const buf = backend.createBuffer(128 * 4, 'flat');
    const layout = { params: buf, grads: backend.createBuffer(128 * 4, 'grads'), groups: [{ offset: 0, length: 64 }] };
    expect(() => planUpdate(backend, opt, { ...layout, grads: buf })).toThrow(/params and grads must be different buffers/);
    expect(() => planUpdate(backend, opt, layout, { clipGradNorm: -1 })).toThrow(/clipGradNorm must be a positive number, got -1/);
    expect(() => planUpdate(backend, opt, layout, { normType: 1 as never })).toThrow(/normType must be 2 or 'inf'/);
    expect(() => planUpdate(backend, opt, { ...layout, groups: [{ offset: 8, length: 64 }] })).toThrow(/starts at 8/);
    expect(() => planUpdate(backend, opt, { ...layout, groups: [{ offset: 0, length: 2 }] })).toThrow(/length 2; its parameters need between 3 and 64/);
    expect(() => planUpdate(backend, opt, { ...layout, groups: [] })).toThrow(/layout has 0 groups, SGD has 1/);
  });
});

describe('state dicts', () => {
  const pick = (name: string) => fixture.cases.find((c) => c.name === name)!;
  const names = ['sgd_momentum', 'adagrad_lr_decay', 'adadelta', 'rmsprop_centered_momentum', 'adam_groups', 'adamw_amsgrad', 'adamax', 'nadam_options'];

  it.each(names)('%s: a fresh optimizer loaded mid-run continues the identical trajectory', async (name) => {
    const c = pick(name);
    const full = await runCase(c);
    const params = freshParams();
    const first = buildCase(c, params);
    const gradient = lossGradient(first.paramGroups.flatMap((g) => g.params));
    await drive(cpuBackend(), first, { steps: 10, gradient, update: c.update });
    const sd = await first.stateDict();
    expect(sd.step).toBe(10);

    const resumedParams = params.map((q) => new Parameter(q.data.slice(), q.shape, q.name));
    const second = buildCase(c, resumedParams);
    second.loadStateDict(sd);
    const rest = await drive(cpuBackend(), second, { steps: 10, gradient, update: c.update });
    rest.trajectory.forEach((v, s) => expect(v, `step ${s + 11}`).toEqual(full.trajectory[s + 10]));
  });

  it('loading into the optimizer that owns the device state rewinds it', async () => {
    const c = pick('adam_amsgrad');
    const full = await runCase(c);
    const backend = cpuBackend();
    const params = freshParams();
    const optimizer = buildCase(c, params);
    const gradient = lossGradient(params);
    await drive(backend, optimizer, { steps: 10, gradient });
    const sd = await optimizer.stateDict();
    const saved = params.map((q) => q.data.slice());
    await drive(backend, optimizer, { steps: 5, gradient });
    optimizer.loadStateDict(sd);
    params.forEach((q, j) => (q.data = saved[j]!));
    const rest = await drive(backend, optimizer, { steps: 10, gradient });
    rest.trajectory.forEach((v, s) => expect(v, `step ${s + 11}`).toEqual(full.trajectory[s + 10]));
  });

  it('names state like torch and numbers parameters across groups', async () => {
    const params = freshParams();
    const optimizer = new Adam([{ params: [params[0]!] }, { params: [params[1]!, params[2]!], amsgrad: true }], { lr: 0.01 });
    const sd = await optimizer.stateDict();
    expect(Object.keys(sd.state).sort()).toEqual(
      ['0.exp_avg', '0.exp_avg_sq', '1.exp_avg', '1.exp_avg_sq', '1.max_exp_avg_sq', '2.exp_avg', '2.exp_avg_sq', '2.max_exp_avg_sq'].sort(),
    );
    expect(sd.state['1.exp_avg']!.length).toBe(5);
    expect(sd.paramGroups.map((g) => (g as { params: number[] }).params)).toEqual([[0], [1, 2]]);
    expect((sd.paramGroups[1] as { amsgrad: boolean }).amsgrad).toBe(true);
  });

  it('rejects a bad state dict without changing anything', async () => {
    const params = freshParams();
    const optimizer = new Adam(params, { lr: 0.01 });
    await drive(cpuBackend(), optimizer, { steps: 3, gradient: lossGradient(params) });
    const before = await optimizer.stateDict();
    const bad = { ...before, state: { ...before.state, '1.exp_avg': new Float32Array(4) }, paramGroups: [{ ...before.paramGroups[0], lr: 0.5 }] };
    expect(() => optimizer.loadStateDict(bad)).toThrow(/state '1.exp_avg' has 4 values, parameter 'p1' has 5/);
    expect(() => optimizer.loadStateDict({ ...before, state: { ...before.state, '3.exp_avg': new Float32Array(1) } })).toThrow(
      /unexpected state entry '3.exp_avg'/,
    );
    expect(() => optimizer.loadStateDict({ ...before, paramGroups: [{ ...before.paramGroups[0], betas: [2, 0.9] }] })).toThrow(
      /invalid betas\[0\]: 2/,
    );
    expect(() => optimizer.loadStateDict({ ...before, step: -1 })).toThrow(/step must be a non-negative integer/);
    expect(await optimizer.stateDict()).toEqual(before);
    expect(optimizer.paramGroups[0]!.lr).toBe(0.01);
  });

  it('an empty state resets the moments; step and options are restored', async () => {
    const params = freshParams();
    const optimizer = new Adagrad(params, { lr: 0.1, initialAccumulatorValue: 0.5 });
    await drive(cpuBackend(), optimizer, { steps: 3, gradient: lossGradient(params) });
    optimizer.loadStateDict({ state: {}, paramGroups: [{ lr: 0.2, params: [0, 1, 2] }], step: 7 });
    const sd = await optimizer.stateDict();
    expect(sd.step).toBe(7);
    expect(optimizer.paramGroups[0]!.lr).toBe(0.2);
    expect([...sd.state['1.sum']!]).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
  });
});
