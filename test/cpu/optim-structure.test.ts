/**
 * The shape of the optimizer code: a new optimizer is one WGSL file and one TypeScript module
 * (here both written inline), its per-step scalars are a WGSL struct checked by reflection and
 * written by name, and the variant check is derived from the kernel's overrides.
 */
import { describe, expect, it } from 'vitest';
import { reflectBindings } from '../../src/backend/webgpu/reflect.js';
import { Parameter } from '../../src/graph/parameter.js';
import { f, gradStats, type HyperValues, STATS, updateKernel } from '../../src/kernels/optim.js';
import { Optimizer, type ParamGroup, type ParamsInput, planUpdate, SGD } from '../../src/optim/index.js';
import { sgdUpdate } from '../../src/optim/sgd.js';
import { cpuBackend, expectAllClose } from '../harness.js';
import { drive, fixture, freshParams, lossGradient } from '../optim-driver.js';

// Signum (Bernstein et al. 2018): m = beta * m + (1 - beta) * g_eff, w = w - lr * sign(m), or
// signSGD, w = w - lr * sign(g_eff), without momentum. Written as a user of the library would:
// its shader, then its module.
const signumSource = /* wgsl */ `
struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
  beta: f32,
  one_minus_beta: f32,
}

override has_momentum: bool = false;

fn update4(q: u32, h: Hyper) {
  var d = optimizer_grad4(q, h);
  if (has_momentum) {
    d = state[q] * h.beta + h.one_minus_beta * d;
    state[q] = d;
  }
  weights[q] = weights[q] - (h.lr * lr_factor()) * sign(d);
}
`;

const signumUpdate = updateKernel({
  name: 'signum',
  source: signumSource,
  hyper: ['lr', 'beta', 'one_minus_beta'],
  variants: { has_momentum: 0 },
  cpu(u) {
    const { weights, state, hyper: h } = u;
    const lr = f(h.lr * u.lrFactor);
    for (let i = 0; i < u.n; i++) {
      let d = u.grad(i);
      if (u.overrides.has_momentum) state[i] = d = f(f(state[i]! * h.beta) + f(h.one_minus_beta * d));
      weights[i] = weights[i]! - f(lr * Math.sign(d));
    }
  },
});

class Signum extends Optimizer {
  protected readonly kernel = signumUpdate;
  constructor(params: ParamsInput, options: { lr?: number; momentum?: number } = {}) {
    super('Signum', params, { lr: 0.01, momentum: 0.9 }, options, { momentum: 'in [0, 1)' });
  }
  stateSlots(group: ParamGroup): readonly string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }
  protected override variants(group: ParamGroup): Record<string, boolean> {
    return { has_momentum: group.momentum !== 0 };
  }
  hyper(group: ParamGroup): HyperValues<typeof signumUpdate> {
    const beta = group.momentum as number;
    return { lr: group.lr, beta, one_minus_beta: 1 - beta };
  }
}

describe('a new optimizer is its WGSL and one module', () => {
  it('reflection accepts its Hyper struct and its variant', () => {
    expect(reflectBindings(signumUpdate).storage).toHaveLength(5);
  });

  it('checks its options by the rules it declares', () => {
    const p = [new Parameter(new Float32Array(3), [3], 'w')];
    expect(() => new Signum(p, { momentum: 1 })).toThrow(/Signum: invalid momentum: 1 \(must be in \[0, 1\)\)/);
    expect(() => new Signum(p, { lr: -1 })).toThrow(/Signum: invalid lr: -1/);
  });

  it.each([0, 0.9])('trains on the CPU backend as the float64 rule says (momentum %f)', async (beta) => {
    const params = freshParams();
    const lr = 0.01;
    const run = await drive(cpuBackend(), new Signum(params, { lr, momentum: beta }), { steps: 5, gradient: lossGradient(params) });
    const a = fixture.a.flat();
    const b = fixture.b.flat();
    const w = fixture.init.flat();
    const m = w.map(() => 0);
    for (let s = 0; s < 5; s++) {
      w.forEach((x, i) => {
        const g = a[i]! * x + b[i]! * Math.cos(x);
        m[i] = beta * m[i]! + (1 - beta) * g;
        w[i] = x - lr * Math.sign(beta === 0 ? g : m[i]!);
      });
      expectAllClose(run.trajectory[s]!, w, { rtol: 1e-6, atol: 1e-7, label: `step ${s + 1}` });
    }
    expect(run.paddingMax).toBe(0);
  });

  it('a scalar the optimizer does not give is an error naming it', () => {
    class Forgetful extends Signum {
      override hyper(): HyperValues<typeof signumUpdate> {
        return {} as HyperValues<typeof signumUpdate>;
      }
    }
    const backend = cpuBackend();
    const opt = new Forgetful([new Parameter(new Float32Array(3), [3], 'w')]);
    const layout = { params: backend.createBuffer(256, 'p'), grads: backend.createBuffer(256, 'g'), groups: [{ offset: 0, length: 64 }] };
    expect(() => planUpdate(backend, opt, layout).beforeStep()).toThrow(/Signum: hyper\(\) gave no value for 'lr'/);
  });
});

describe('per-step scalars by name', () => {
  const hyperOf = (k: typeof sgdUpdate) => k.bindings.find((b) => b.name === 'hyper')!;

  it('reflection names the binding when the TypeScript list and the WGSL struct differ', () => {
    const binding = hyperOf(sgdUpdate);
    const swapped = [...binding.fields!];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    const wrong = { ...sgdUpdate, bindings: sgdUpdate.bindings.map((b) => (b === binding ? { ...b, fields: swapped } : b)) };
    expect(() => reflectBindings(wrong)).toThrow(
      /shader 'optim\/sgd'.*binding 'hyper'.*struct \{l1: f32, l2: f32, lr: f32, first_step: f32.*TypeScript declares \{l1: f32, l2: f32, first_step: f32, lr: f32/,
    );
  });

  it('the statistics struct is checked the same way, and STATS follows its order', () => {
    const stats = gradStats.bindings.find((b) => b.name === 'stats')!;
    expect(stats.fields!.map((m) => m.name)).toEqual(['grad_norm', 'clip_coef', 'lr_factor', 'penalty', 'skip']);
    expect(STATS).toEqual({ gradNorm: 0, clipCoef: 1, lrFactor: 2, penalty: 3, skip: 4 });
    const wrong = { ...gradStats, bindings: gradStats.bindings.map((b) => (b === stats ? { ...b, fields: stats.fields!.slice(1) } : b)) };
    expect(() => reflectBindings(wrong)).toThrow(/binding 'stats'.*TypeScript declares \{clip_coef/);
  });
});

describe('variants derived from the overrides', () => {
  it('names the kernel and every override value', () => {
    const opt = new SGD([new Parameter(new Float32Array(3), [3], 'w')], { lr: 0.1, momentum: 0.9, nesterov: true });
    expect(opt.variantKey(opt.paramGroups[0]!)).toBe('optim/sgd(maximize=0, has_momentum=1, nesterov=1)');
    expect(opt.update(opt.paramGroups[0]!).overrides).toEqual({ maximize: 0, has_momentum: 1, nesterov: 1 });
  });

  it('an option changed after planning that needs another kernel stops the next step', () => {
    const backend = cpuBackend();
    const opt = new SGD([new Parameter(new Float32Array(3), [3], 'w')], { lr: 0.1, momentum: 0.9 });
    const layout = { params: backend.createBuffer(256, 'p'), grads: backend.createBuffer(256, 'g'), groups: [{ offset: 0, length: 64 }] };
    const plan = planUpdate(backend, opt, layout);
    plan.beforeStep();
    opt.paramGroups[0]!.lr = 0.05;
    plan.beforeStep();
    opt.paramGroups[0]!.nesterov = true;
    expect(() => plan.beforeStep()).toThrow(/SGD: an option of param group 0 that selects the update kernel changed/);
  });
});
