import source from '../../shaders/activation_stats.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { floatOf, pow2Scale } from './layer-stats.js';
import { treeSum } from './reduce.js';
import { withCommon } from './source.js';

/**
 * Mean, standard deviation and fraction of exact zeros of module outputs
 * (shaders/activation_stats.wgsl): one workgroup per tensor, up to `TENSORS_PER_DISPATCH`
 * tensors per dispatch, each through a binding of its own. The twin visits elements in the
 * shader's lane order and rounds like float32, so the backends agree to a few ulp (the GPU may
 * fuse a multiply-add, and WGSL's division is not correctly rounded); the zero counts agree
 * exactly.
 */

const f32 = Math.fround;

/** Tensors one dispatch measures: 7 bindings plus `out` are the 8 storage buffers of a stage. */
export const TENSORS_PER_DISPATCH = 7;
/** Words per tensor in `out`: mean, q, 2^e, zero count. */
export const ACTIVATION_STRIDE = 4;
/** The shader's workgroup size: a power of two. */
export const ACTIVATION_WG = 256;
const NAN_BITS = 0x7fc00000;

const slots = Array.from({ length: TENSORS_PER_DISPATCH }, (_, k) => k);

const params: readonly ParamSpec[] = [{ name: 'first', type: 'u32' }, ...slots.map((k): ParamSpec => ({ name: `n${k}`, type: 'u32' }))];

const bindings: readonly BindingSpec[] = [
  ...slots.map((k): BindingSpec => ({ name: `x${k}`, type: 'f32', access: 'read' })),
  { name: 'out', type: 'u32', access: 'read_write' },
];

function statsTwin({ buffers, params: p, overrides, workgroups }: CpuInvocation): void {
  const out = buffers.out as Uint32Array;
  const outFloats = new Float32Array(out.buffer, out.byteOffset, out.length);
  const wg = overrides.wg!;
  for (let k = 0; k < workgroups[0]; k++) {
    const x = buffers[`x${k}`] as Float32Array;
    const n = p[`n${k}`]!;
    let top = 0;
    let zeros = 0;
    let bad = false;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (Number.isFinite(v)) top = Math.max(top, Math.abs(v));
      else bad = true;
      if (v === 0) zeros++;
    }
    const sum = treeSum(n, wg, (i) => (Number.isFinite(x[i]!) ? x[i]! : 0));
    const mean = f32(sum / f32(n));
    const [scale, inverse] = pow2Scale(top);
    const q = treeSum(n, wg, (i) => {
      const d = f32(f32(x[i]! - mean) * inverse);
      return f32(d * d);
    });
    const base = ACTIVATION_STRIDE * (p.first! + k);
    if (bad) {
      out[base] = NAN_BITS;
      out[base + 1] = NAN_BITS;
    } else {
      outFloats[base] = mean;
      outFloats[base + 1] = q;
    }
    outFloats[base + 2] = scale;
    out[base + 3] = zeros;
  }
}

/** Per tensor: mean, sum of squared deviations (scaled), and the count of exact zeros. */
export const activationStats: KernelSpec = {
  name: 'activation_stats',
  wgsl: withCommon(source),
  entry: 'activation_stats',
  params,
  bindings,
  overrides: { wg: ACTIVATION_WG },
  cpu: statsTwin,
};

/**
 * The launches that measure `tensors` into `out` (ACTIVATION_STRIDE words per tensor, in order):
 * ceil(tensors / TENSORS_PER_DISPATCH) dispatches. Each view holds exactly its tensor's elements
 * (a dense tensor from its first element); bindings past a dispatch's tensors repeat its first
 * view and are not read.
 */
export function activationStatsLaunches(tensors: readonly BufferView[], out: BufferView, label = 'activation-stats'): Launch[] {
  if (tensors.length === 0) return [];
  for (const [t, v] of tensors.entries()) {
    if (v.length < 1 || v.length >= 2 ** 32) throw new Error(`${label}: tensor ${t} must hold 1 to 2^32 - 1 elements, got ${v.length}`);
  }
  const launches: Launch[] = [];
  for (let first = 0; first < tensors.length; first += TENSORS_PER_DISPATCH) {
    const group = tensors.slice(first, first + TENSORS_PER_DISPATCH);
    const values: Record<string, number> = { first };
    const bound: Record<string, BufferView> = { out };
    for (const k of slots) {
      values[`n${k}`] = group[k]?.length ?? 0;
      bound[`x${k}`] = group[k] ?? group[0]!;
    }
    launches.push(
      launch(activationStats, {
        bindings: bound,
        params: values,
        needs: { out: ACTIVATION_STRIDE * (first + group.length) },
        workgroups: [group.length, 1, 1],
        label: tensors.length > TENSORS_PER_DISPATCH ? `${label}/${first / TENSORS_PER_DISPATCH}` : label,
      }),
    );
  }
  return launches;
}

/** The figures of one tensor of n elements. */
export interface ActivationFigures {
  readonly mean: number;
  /** The population standard deviation (divided by n). */
  readonly std: number;
  readonly zeroFraction: number;
}

/** Reads tensor t's block of `out` (its words, as copied back); the tensor held n elements. */
export function decodeActivationStats(words: Uint32Array, t: number, n: number): ActivationFigures {
  const base = ACTIVATION_STRIDE * t;
  return {
    mean: floatOf(words[base]!),
    std: floatOf(words[base + 2]!) * Math.sqrt(floatOf(words[base + 1]!) / n),
    zeroFraction: words[base + 3]! / n,
  };
}
