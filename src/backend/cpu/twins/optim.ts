/**
 * Twins of shaders/optim/*.wgsl: the same f32 operations in the same order, each rounded through
 * Math.fround, so that the CPU backend reproduces torch's float32 trajectories.
 */
import type { CpuInvocation } from '../../kernel.js';

const f = Math.fround;

/**
 * WGSL fma(a, b, c) = a * b + c rounded once. For f32 inputs a * b is exact in float64, so only
 * the sum rounds before the final rounding to f32 (a double rounding that can differ from a true
 * fused result only when the sum lands exactly on an f32 rounding boundary).
 */
function fma(a: number, b: number, c: number): number {
  return f(a * b + c);
}

// Indices shared with shaders/optim/common.wgsl.
const HYPER_L1 = 0;
const HYPER_L2 = 1;
const STAT_GRAD_NORM = 0;
const STAT_CLIP_COEF = 1;
const STAT_LR_FACTOR = 2;
const STAT_PENALTY = 3;

function penalizedGrad(g: number, w: number, l1: number, l2: number): number {
  return f(f(g + f(l1 * Math.sign(w))) + f(l2 * w));
}

function penaltyOf(w: number, l1: number, l2: number): number {
  return f(f(l1 * Math.abs(w)) + f(f(f(0.5 * l2) * w) * w));
}

/** The per-launch context every update twin starts from (see the prologue of each shader). */
interface UpdateContext {
  readonly n: number;
  readonly stride: number;
  readonly weights: Float32Array;
  readonly grads: Float32Array;
  readonly state: Float32Array;
  readonly hyper: Float32Array;
  /** Multiplies the learning rate: stats[lr_factor] when scale_lr, else 1. */
  readonly lrFactor: number;
  /** g_eff of element i: penalties, clipping and maximize applied (optimizer_grad4). */
  grad(i: number): number;
  readonly overrides: Readonly<Record<string, number>>;
}

function context({ buffers, params, overrides }: CpuInvocation): UpdateContext {
  const weights = buffers.weights as Float32Array;
  const grads = buffers.grads as Float32Array;
  const hyper = buffers.hyper as Float32Array;
  const stats = buffers.stats as Float32Array;
  const clipCoef = overrides.clip_by_norm ? stats[STAT_CLIP_COEF]! : 1;
  const clipValue = f(params.clip_value!);
  const byValue = Boolean(overrides.clip_by_value);
  const maximize = Boolean(overrides.maximize);
  const l1 = hyper[HYPER_L1]!;
  const l2 = hyper[HYPER_L2]!;
  return {
    n: params.n!,
    stride: params.stride!,
    weights,
    grads,
    state: buffers.state as Float32Array,
    hyper,
    lrFactor: overrides.scale_lr ? stats[STAT_LR_FACTOR]! : 1,
    overrides,
    grad(i) {
      let e = f(penalizedGrad(grads[i]!, weights[i]!, l1, l2) * clipCoef);
      if (byValue) e = Math.min(Math.max(e, -clipValue), clipValue);
      return maximize ? -e : e;
    },
  };
}

export function sgdUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper } = c;
  const lr = f(hyper[2]! * c.lrFactor);
  const firstStep = hyper[3] !== 0;
  const [momentum, oneMinusDampening, weightDecay] = [hyper[4]!, hyper[5]!, hyper[6]!];
  const hasMomentum = Boolean(c.overrides.has_momentum);
  const nesterov = Boolean(c.overrides.nesterov);
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    let d = fma(weightDecay, w, c.grad(i));
    if (hasMomentum) {
      const b = firstStep ? d : fma(oneMinusDampening, d, f(state[i]! * momentum));
      state[i] = b;
      d = nesterov ? fma(momentum, b, d) : b;
    }
    weights[i] = fma(-lr, d, w);
  }
}

export function adagradUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper } = c;
  const clr = f(hyper[2]! * c.lrFactor);
  const [eps, weightDecay] = [hyper[3]!, hyper[4]!];
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = fma(weightDecay, w, c.grad(i));
    const sum = fma(g, g, state[i]!);
    state[i] = sum;
    const denom = f(f(Math.sqrt(sum)) + eps);
    weights[i] = w + f(f(-clr * g) / denom);
  }
}

export function adadeltaUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper, stride } = c;
  const lr = f(hyper[2]! * c.lrFactor);
  const [rho, oneMinusRho, eps, weightDecay] = [hyper[3]!, hyper[4]!, hyper[5]!, hyper[6]!];
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = fma(weightDecay, w, c.grad(i));
    const sq = fma(f(oneMinusRho * g), g, f(state[i]! * rho));
    state[i] = sq;
    const rmsGrad = f(Math.sqrt(f(sq + eps)));
    const delta = f(f(f(Math.sqrt(f(state[stride + i]! + eps))) / rmsGrad) * g);
    state[stride + i] = fma(f(oneMinusRho * delta), delta, f(state[stride + i]! * rho));
    weights[i] = fma(-lr, delta, w);
  }
}

export function rmspropUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper, stride } = c;
  const lr = f(hyper[2]! * c.lrFactor);
  const [alpha, oneMinusAlpha, eps, weightDecay, momentum] = [hyper[3]!, hyper[4]!, hyper[5]!, hyper[6]!, hyper[7]!];
  const hasMomentum = Boolean(c.overrides.has_momentum);
  const centered = Boolean(c.overrides.centered);
  const gradAvgAt = (hasMomentum ? 2 : 1) * stride;
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = fma(weightDecay, w, c.grad(i));
    const sq = fma(f(oneMinusAlpha * g), g, f(state[i]! * alpha));
    state[i] = sq;
    let avg = f(Math.sqrt(sq));
    if (centered) {
      const ga = fma(oneMinusAlpha, g, f(state[gradAvgAt + i]! * alpha));
      state[gradAvgAt + i] = ga;
      avg = f(Math.sqrt(fma(-ga, ga, sq)));
    }
    avg = f(avg + eps);
    if (hasMomentum) {
      const b = f(f(state[stride + i]! * momentum) + f(g / avg));
      state[stride + i] = b;
      weights[i] = fma(-lr, b, w);
    } else {
      weights[i] = w + f(f(-lr * g) / avg);
    }
  }
}

function adamStep(c: UpdateContext, i: number, w: number, g: number): void {
  const { state, hyper, stride: s } = c;
  const m = fma(hyper[5]!, g, f(state[i]! * hyper[4]!));
  let v = fma(f(hyper[7]! * g), g, f(state[s + i]! * hyper[6]!));
  state[i] = m;
  state[s + i] = v;
  if (c.overrides.amsgrad) {
    v = Math.max(state[2 * s + i]!, v);
    state[2 * s + i] = v;
  }
  const denom = f(f(f(Math.sqrt(v)) / hyper[3]!) + hyper[8]!);
  const stepSize = f(hyper[2]! * c.lrFactor);
  c.weights[i] = w + f(f(-stepSize * m) / denom);
}

export function adamUpdate(call: CpuInvocation): void {
  const c = context(call);
  const decay = c.hyper[9]!;
  for (let i = 0; i < c.n; i++) {
    const w = c.weights[i]!;
    adamStep(c, i, w, fma(decay, w, c.grad(i)));
  }
}

export function adamwUpdate(call: CpuInvocation): void {
  const c = context(call);
  const keep = f(1 - f(c.hyper[9]! * c.lrFactor));
  for (let i = 0; i < c.n; i++) {
    const g = c.grad(i);
    adamStep(c, i, f(c.weights[i]! * keep), g);
  }
}

export function adamaxUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper, stride } = c;
  const clr = f(hyper[2]! * c.lrFactor);
  const [beta1, oneMinusBeta1, beta2, eps, weightDecay] = [hyper[3]!, hyper[4]!, hyper[5]!, hyper[6]!, hyper[7]!];
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = fma(weightDecay, w, c.grad(i));
    const m = fma(oneMinusBeta1, g, f(state[i]! * beta1));
    const u = Math.max(f(state[stride + i]! * beta2), f(Math.abs(g) + eps));
    state[i] = m;
    state[stride + i] = u;
    weights[i] = w + f(f(-clr * m) / u);
  }
}

export function nadamUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper, stride: s } = c;
  const [bc2, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecay] = [
    hyper[2]!, hyper[5]!, hyper[6]!, hyper[7]!, hyper[8]!, hyper[9]!, hyper[10]!,
  ];
  const cGrad = f(hyper[3]! * c.lrFactor);
  const cAvg = f(hyper[4]! * c.lrFactor);
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = fma(weightDecay, w, c.grad(i));
    const m = fma(oneMinusBeta1, g, f(state[i]! * beta1));
    const v = fma(f(oneMinusBeta2 * g), g, f(state[s + i]! * beta2));
    state[i] = m;
    state[s + i] = v;
    const denom = f(f(Math.sqrt(f(v / bc2))) + eps);
    const w1 = f(w + f(f(-cGrad * g) / denom));
    weights[i] = w1 + f(f(-cAvg * m) / denom);
  }
}

export function lionUpdate(call: CpuInvocation): void {
  const c = context(call);
  const { weights, state, hyper } = c;
  const lr = f(hyper[2]! * c.lrFactor);
  const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, weightDecay] = [hyper[3]!, hyper[4]!, hyper[5]!, hyper[6]!, hyper[7]!];
  for (let i = 0; i < c.n; i++) {
    const w = weights[i]!;
    const g = c.grad(i);
    const m = state[i]!;
    const dir = f(f(m * beta1) + f(oneMinusBeta1 * g));
    weights[i] = w - f(lr * f(Math.sign(dir) + f(weightDecay * w)));
    state[i] = f(f(m * beta2) + f(oneMinusBeta2 * g));
  }
}

/** Adds lanes pairwise in the order of the shaders' workgroup tree (sum) or takes their max. */
function treeReduce(lanes: Float32Array, max: boolean): number {
  for (let half = lanes.length >> 1; half > 0; half >>= 1) {
    for (let l = 0; l < half; l++) lanes[l] = max ? Math.max(lanes[l]!, lanes[l + half]!) : lanes[l]! + lanes[l + half]!;
  }
  return lanes[0]!;
}

export function gradNormPartial({ buffers, params, overrides, workgroups }: CpuInvocation): void {
  const weights = buffers.weights as Float32Array;
  const grads = buffers.grads as Float32Array;
  const hyper = buffers.hyper as Float32Array;
  const partials = buffers.partials as Float32Array;
  const wg = overrides.wg!;
  const normInf = Boolean(overrides.norm_inf);
  const l1 = hyper[HYPER_L1]!;
  const l2 = hyper[HYPER_L2]!;
  const n = params.n!;
  const groups = workgroups[0];
  const normLanes = new Float32Array(wg);
  const penaltyLanes = new Float32Array(wg);
  for (let k = 0; k < groups; k++) {
    for (let lane = 0; lane < wg; lane++) {
      let norm = 0;
      let penalty = 0;
      for (let i = k * wg + lane; i < n; i += groups * wg) {
        const g = penalizedGrad(grads[i]!, weights[i]!, l1, l2);
        norm = normInf ? Math.max(norm, Math.abs(g)) : f(norm + f(g * g));
        penalty = f(penalty + penaltyOf(weights[i]!, l1, l2));
      }
      normLanes[lane] = norm;
      penaltyLanes[lane] = penalty;
    }
    partials[2 * (params.base! + k)] = treeReduce(normLanes, normInf);
    partials[2 * (params.base! + k) + 1] = treeReduce(penaltyLanes, false);
  }
}

export function gradStats({ buffers, params, overrides }: CpuInvocation): void {
  const partials = buffers.partials as Float32Array;
  const stats = buffers.stats as Float32Array;
  const wg = overrides.wg!;
  const normInf = Boolean(overrides.norm_inf);
  const normLanes = new Float32Array(wg);
  const penaltyLanes = new Float32Array(wg);
  for (let lane = 0; lane < wg; lane++) {
    let norm = 0;
    let penalty = 0;
    for (let k = lane; k < params.count!; k += wg) {
      norm = normInf ? Math.max(norm, partials[2 * k]!) : f(norm + partials[2 * k]!);
      penalty = f(penalty + partials[2 * k + 1]!);
    }
    normLanes[lane] = norm;
    penaltyLanes[lane] = penalty;
  }
  const reduced = treeReduce(normLanes, normInf);
  const norm = normInf ? reduced : f(Math.sqrt(reduced));
  stats[STAT_GRAD_NORM] = norm;
  stats[STAT_CLIP_COEF] = overrides.clip_by_norm ? Math.min(1, f(f(1 / f(norm + f(1e-6))) * f(params.max_norm!))) : 1;
  stats[STAT_LR_FACTOR] = overrides.scale_lr
    ? f(1 / f(Math.pow(Math.max(norm, f(params.eps!)), f(params.gamma!))))
    : 1;
  stats[STAT_PENALTY] = treeReduce(penaltyLanes, false);
}
