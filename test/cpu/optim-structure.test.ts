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

// sign-SGD: w = w - lr * sign(g_eff), with a `flip` variant that ascends instead (a stand-in for
// a real option). Written as a user of the library would: its shader, then its module.
const signSource = /* wgsl */ `
struct Hyper {
  l1: f32,
  l2: f32,
  lr: f32,
}

override flip: bool = false;

@compute @workgroup_size(wg)
fn sign_sgd_update(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let range = update_range(wid, nwg, lid);
  let lr = select(hyper.lr, -hyper.lr, flip) * lr_factor();
  for (var q = range.x; q < range.y; q++) {
    weights[q] = weights[q] - lr * sign(optimizer_grad4(q));
  }
}
`;

const signUpdate = updateKernel({
  name: 'sign_sgd',
  source: signSource,
  hyper: ['lr'],
  variants: { flip: 0 },
  cpu(u) {
    const lr = f((u.overrides.flip ? -u.hyper.lr : u.hyper.lr) * u.lrFactor);
    for (let i = 0; i < u.n; i++) u.weights[i] = u.weights[i]! - f(lr * Math.sign(u.grad(i)));
  },
});

class SignSGD extends Optimizer {
  protected readonly kernel = signUpdate;
  constructor(params: ParamsInput, options: { lr?: number; flip?: boolean } = {}) {
    super('SignSGD', params, { lr: 0.01, flip: false }, options);
  }
  protected validateGroup(group: ParamGroup, index: number): void {
    this.expect(group, index, 'flip', 'boolean');
  }
  stateSlots(): readonly string[] {
    return [];
  }
  protected override variants(group: ParamGroup): Record<string, boolean> {
    return { flip: group.flip === true };
  }
  hyper(group: ParamGroup): HyperValues<typeof signUpdate> {
    return { lr: group.lr };
  }
}

describe('a new optimizer is its WGSL and one module', () => {
  it('reflection accepts its Hyper struct and its variant', () => {
    expect(reflectBindings(signUpdate).storage).toHaveLength(5);
  });

  it.each([false, true])('trains on the CPU backend as the float64 rule says (flip %s)', async (flip) => {
    const params = freshParams();
    const lr = 0.01;
    const run = await drive(cpuBackend(), new SignSGD(params, { lr, flip }), { steps: 5, gradient: lossGradient(params) });
    const a = fixture.a.flat();
    const b = fixture.b.flat();
    const w = fixture.init.flat();
    for (let s = 0; s < 5; s++) {
      const g = w.map((x, i) => a[i]! * x + b[i]! * Math.cos(x));
      g.forEach((gi, i) => (w[i] = w[i]! - (flip ? -lr : lr) * Math.sign(gi)));
      expectAllClose(run.trajectory[s]!, w, { rtol: 1e-6, atol: 1e-7, label: `step ${s + 1}` });
    }
    expect(run.paddingMax).toBe(0);
  });

  it('a scalar the optimizer does not give is an error naming it', () => {
    class Forgetful extends SignSGD {
      override hyper(): HyperValues<typeof signUpdate> {
        return {} as HyperValues<typeof signUpdate>;
      }
    }
    const backend = cpuBackend();
    const opt = new Forgetful([new Parameter(new Float32Array(3), [3], 'w')]);
    const layout = { params: backend.createBuffer(256, 'p'), grads: backend.createBuffer(256, 'g'), groups: [{ offset: 0, length: 64 }] };
    expect(() => planUpdate(backend, opt, layout).beforeStep()).toThrow(/SignSGD: hyper\(\) gave no value for 'lr'/);
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
    expect(stats.fields!.map((m) => m.name)).toEqual(['grad_norm', 'clip_coef', 'lr_factor', 'penalty']);
    expect(STATS).toEqual({ gradNorm: 0, clipCoef: 1, lrFactor: 2, penalty: 3 });
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
