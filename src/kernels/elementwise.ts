import source from '../../shaders/elementwise.wgsl';
import type { BindingSpec, BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Elementwise kernels over flat f32 arrays (shaders/elementwise.wgsl). All share the uniform
 * `{ n: u32, value: f32 }`; `value` is the scalar operand where there is one and 0 elsewhere.
 * The twins store through Float32Array, which rounds each result like the GPU.
 */

const wgsl = withCommon(source);

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'value', type: 'f32' },
];

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(name: string, bindings: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  return { name, wgsl, entry: name, params, bindings, overrides: { wg: 256 }, cpu };
}

/** out[i] = value. */
export const fill = spec('fill', [write('out')], ({ buffers, params }) => {
  buffers.out!.fill(params.value!, 0, params.n!);
});

/** out[i] = x[i]. */
export const copy = spec('copy', [read('x'), write('out')], ({ buffers, params }) => {
  buffers.out!.set(buffers.x!.subarray(0, params.n!));
});

/** out[i] = a[i] + b[i]. */
export const add = spec('add', [read('a'), read('b'), write('out')], ({ buffers: { a, b, out }, params }) => {
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! + b![i]!;
});

/** out[i] = a[i] * b[i]. */
export const mul = spec('mul', [read('a'), read('b'), write('out')], ({ buffers: { a, b, out }, params }) => {
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! * b![i]!;
});

/** out[i] = value * x[i]. */
export const scale = spec('scale', [read('x'), write('out')], ({ buffers: { x, out }, params }) => {
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) out![i] = s * x![i]!;
});

/** out[i] = a[i] + value * b[i]. */
export const addScaled = spec('add_scaled', [read('a'), read('b'), write('out')], ({ buffers: { a, b, out }, params }) => {
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! + Math.fround(s * b![i]!);
});

/** y[i] += value * x[i], in place (gradient accumulation). */
export const axpy = spec('axpy', [read('x'), write('y')], ({ buffers: { x, y }, params }) => {
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) y![i] = y![i]! + Math.fround(s * x![i]!);
});

/** One launch of `kernel` over n elements: every binding needs n of them. */
function over(kernel: KernelSpec, bindings: Record<string, BufferView>, n: number, value: number, label?: string): Launch {
  const needs = Object.fromEntries(kernel.bindings.map((b) => [b.name, n]));
  return launch(kernel, { bindings, params: { n, value }, threads: n, needs, label });
}

export function fillLaunch(bindings: { out: BufferView }, n: number, value: number, label?: string): Launch {
  return over(fill, bindings, n, value, label);
}

export function copyLaunch(bindings: { x: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return over(copy, bindings, n, 0, label);
}

export function addLaunch(bindings: { a: BufferView; b: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return over(add, bindings, n, 0, label);
}

export function mulLaunch(bindings: { a: BufferView; b: BufferView; out: BufferView }, n: number, label?: string): Launch {
  return over(mul, bindings, n, 0, label);
}

export function scaleLaunch(bindings: { x: BufferView; out: BufferView }, n: number, s: number, label?: string): Launch {
  return over(scale, bindings, n, s, label);
}

export function addScaledLaunch(
  bindings: { a: BufferView; b: BufferView; out: BufferView },
  n: number,
  s: number,
  label?: string,
): Launch {
  return over(addScaled, bindings, n, s, label);
}

export function axpyLaunch(bindings: { x: BufferView; y: BufferView }, n: number, s: number, label?: string): Launch {
  return over(axpy, bindings, n, s, label);
}
