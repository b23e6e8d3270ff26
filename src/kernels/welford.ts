/**
 * The CPU twins of shaders/welford.wgsl, shared by batch and layer normalisation: per-invocation
 * Welford moments and paired sums over values 0..m-1 (invocation l taking l, l + wg, ...),
 * merged in the shaders' fixed tree with float32 rounding at every step as on the GPU.
 */

const f = Math.fround;

/** Welford's (count, mean, M2) of `value(0..m-1)`, as welford_add then merge_moments compute it. */
export function treeMoments(m: number, wg: number, value: (i: number) => number): { mean: number; m2: number; count: number } {
  const count = new Float32Array(wg);
  const mean = new Float32Array(wg);
  const m2 = new Float32Array(wg);
  for (let l = 0; l < wg; l++) {
    let n = 0;
    let avg = 0;
    let s = 0;
    for (let i = l; i < m; i += wg) {
      const v = value(i);
      n = f(n + 1);
      const delta = f(v - avg);
      avg = f(avg + f(delta / n));
      s = f(s + f(delta * f(v - avg)));
    }
    count[l] = n;
    mean[l] = avg;
    m2[l] = s;
  }
  for (let stride = wg >> 1; stride > 0; stride >>= 1) {
    for (let l = 0; l < stride; l++) {
      const nb = count[l + stride]!;
      if (!(nb > 0)) continue;
      const na = count[l]!;
      const n = f(na + nb);
      const delta = f(mean[l + stride]! - mean[l]!);
      const w = f(nb / n);
      mean[l] = f(mean[l]! + f(delta * w));
      m2[l] = f(f(m2[l]! + m2[l + stride]!) + f(f(f(delta * delta) * na) * w));
      count[l] = n;
    }
  }
  return { mean: mean[0]!, m2: m2[0]!, count: count[0]! };
}

/** Two sums of `terms(0..m-1)`, per invocation in sequence, then merged as merge_sums does. */
export function treeSums(m: number, wg: number, terms: (i: number) => readonly [number, number]): [number, number] {
  const a = new Float32Array(wg);
  const b = new Float32Array(wg);
  for (let l = 0; l < wg; l++) {
    let sa = 0;
    let sb = 0;
    for (let i = l; i < m; i += wg) {
      const [ta, tb] = terms(i);
      sa = f(sa + ta);
      sb = f(sb + tb);
    }
    a[l] = sa;
    b[l] = sb;
  }
  for (let stride = wg >> 1; stride > 0; stride >>= 1) {
    for (let l = 0; l < stride; l++) {
      a[l] = a[l]! + a[l + stride]!;
      b[l] = b[l]! + b[l + stride]!;
    }
  }
  return [a[0]!, b[0]!];
}

/** 1 / sqrt(v + eps) in float32. */
export function rstdOf(variance: number, eps: number): number {
  return f(1 / Math.sqrt(f(variance + f(eps))));
}

/** How a launch helper of a reduction should size its workgroups. */
export interface ReductionOptions {
  /**
   * The backend is a software adapter or the CPU (`Backend.software`): there every barrier
   * switches between the workgroup's groups of invocations, which costs more than the few values
   * each invocation would otherwise sum, so one SIMD-wide group works best.
   */
  readonly software?: boolean;
}

/** Invocations of a software adapter's reduction workgroup: one SwiftShader SIMD group. */
const SOFTWARE_GROUP = 4;

/**
 * Invocations per workgroup for a reduction over `m` values: short channels and rows waste fewer
 * lanes; 256 is the most WebGPU allows by default.
 */
export function reductionGroupSize(m: number, options: ReductionOptions = {}): number {
  if (options.software) return SOFTWARE_GROUP;
  return m <= 64 ? 64 : 256;
}
