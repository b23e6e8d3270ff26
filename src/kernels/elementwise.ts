import source from '../../shaders/elementwise.wgsl';
import * as twin from '../backend/cpu/twins/elementwise.js';
import type { BindingSpec, BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { withCommon } from './source.js';

/**
 * Elementwise kernels over flat f32 arrays (shaders/elementwise.wgsl). All share the uniform
 * `{ n: u32, value: f32 }`; `value` is the scalar operand where there is one and 0 elsewhere.
 */

const wgsl = withCommon(source);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'value', type: 'f32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(name: string, bindings: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  return { name, wgsl, entry: name, params, bindings, overrides: { wg: WG }, cpu };
}

/** out[i] = value. */
export const fill = spec('fill', [write('out')], twin.fill);
/** out[i] = x[i]. */
export const copy = spec('copy', [read('x'), write('out')], twin.copy);
/** out[i] = a[i] + b[i]. */
export const add = spec('add', [read('a'), read('b'), write('out')], twin.add);
/** out[i] = a[i] * b[i]. */
export const mul = spec('mul', [read('a'), read('b'), write('out')], twin.mul);
/** out[i] = value * x[i]. */
export const scale = spec('scale', [read('x'), write('out')], twin.scale);
/** out[i] = a[i] + value * b[i]. */
export const addScaled = spec('add_scaled', [read('a'), read('b'), write('out')], twin.addScaled);
/** y[i] += value * x[i], in place (gradient accumulation). */
export const axpy = spec('axpy', [read('x'), write('y')], twin.axpy);

function launch(kernel: KernelSpec, bindings: Record<string, BufferView>, n: number, value: number, label?: string): Launch {
  for (const [name, v] of Object.entries(bindings)) {
    if (v.length < n) throw new Error(`${label ?? kernel.name}: binding '${name}' holds ${v.length} elements, needs ${n}`);
  }
  return { kernel, bindings, params: { n, value }, workgroups: grid1d(n, WG), label };
}

export function fillLaunch(bindings: { out: BufferView }, n: number, value: number, label?: string): Launch {
  return launch(fill, bindings, n, value, label);
}

export function copyLaunch(bindings: { x: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return launch(copy, bindings, n, 0, label);
}

export function addLaunch(bindings: { a: BufferView; b: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return launch(add, bindings, n, 0, label);
}

export function mulLaunch(bindings: { a: BufferView; b: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return launch(mul, bindings, n, 0, label);
}

export function scaleLaunch(bindings: { x: BufferView; out: BufferView }, n: number, s: number, label?: string): Launch {
  return launch(scale, bindings, n, s, label);
}

export function addScaledLaunch(
  bindings: { a: BufferView; b: BufferView; out: BufferView },
  n: number,
  s: number,
  label?: string,
): Launch {
  return launch(addScaled, bindings, n, s, label);
}

export function axpyLaunch(bindings: { x: BufferView; y: BufferView }, n: number, s: number, label?: string): Launch {
  return launch(axpy, bindings, n, s, label);
}
