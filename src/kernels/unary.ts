import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/unary.wgsl';
import type { BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { ACTIVATIONS, type Activation, actForward, actGrad } from './activations.js';
import { launch } from './launch.js';
import { withCommon } from './source.js';

/**
 * Activation forward and backward (shaders/unary.wgsl). The override `act` holds a code of
 * ACTIVATIONS; the uniform `alpha` is leaky_relu's negative slope (ignored by other kinds).
 */

const wgsl = withCommon(`${activations}\n${source}`);

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'alpha', type: 'f32' },
];

/** torch.nn.LeakyReLU's default negative slope. */
export const DEFAULT_ALPHA = 0.01;

/** output[i] = act(input[i]). Bindings: input (read), output (read_write). */
export const actForwardKernel: KernelSpec = {
  name: 'act_forward',
  wgsl,
  entry: 'unary_forward',
  params,
  bindings: [
    { name: 'input', type: 'f32', access: 'read' },
    { name: 'output', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: 256, act: 0 },
  cpu({ buffers: { input, output }, params, overrides }) {
    const alpha = Math.fround(params.alpha!);
    for (let i = 0; i < params.n!; i++) output![i] = actForward(overrides.act ?? 0, input![i]!, alpha);
  },
};

/**
 * dx[i] = dy[i] * act'(x[i]). Bindings: dy (read), v (read: the forward output y, or the
 * forward input x when gradFromOutput(act) is false, i.e. for gelu), dx (read_write).
 */
export const actBackwardKernel: KernelSpec = {
  name: 'act_backward',
  wgsl,
  entry: 'unary_backward',
  params,
  bindings: [
    { name: 'dy', type: 'f32', access: 'read' },
    { name: 'v', type: 'f32', access: 'read' },
    { name: 'dx', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: 256, act: 0 },
  cpu({ buffers: { dy, v, dx }, params, overrides }) {
    const alpha = Math.fround(params.alpha!);
    for (let i = 0; i < params.n!; i++) dx![i] = dy![i]! * actGrad(overrides.act ?? 0, v![i]!, alpha);
  },
};

function over(kernel: KernelSpec, bindings: Record<string, BufferView>, n: number, act: Activation, alpha: number, label?: string): Launch {
  const needs = Object.fromEntries(kernel.bindings.map((b) => [b.name, n]));
  return launch(kernel, { bindings, params: { n, alpha }, overrides: { act: ACTIVATIONS[act] }, threads: n, needs, label });
}

export function actForwardLaunch(
  bindings: { input: BufferView; output: BufferView },
  n: number,
  act: Activation,
  alpha = DEFAULT_ALPHA,
  label?: string,
): Launch {
  return over(actForwardKernel, bindings, n, act, alpha, label);
}

export function actBackwardLaunch(
  bindings: { dy: BufferView; v: BufferView; dx: BufferView },
  n: number,
  act: Activation,
  alpha = DEFAULT_ALPHA,
  label?: string,
): Launch {
  return over(actBackwardKernel, bindings, n, act, alpha, label);
}
