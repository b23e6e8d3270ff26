import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/unary.wgsl';
import type { BindingSpec, BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
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

const read = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const write = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

function spec(name: string, entry: string, bindings: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  return { name, wgsl, entry, params, bindings, overrides: { wg: 256, act: 0 }, cpu };
}

/** output[i] = act(input[i]). */
export const actForwardKernel = spec('act_forward', 'unary_forward', [read('input'), write('output')], (call) => {
  const { buffers: { input, output }, params, overrides } = call;
  const alpha = Math.fround(params.alpha!);
  for (let i = 0; i < params.n!; i++) output![i] = actForward(overrides.act ?? 0, input![i]!, alpha);
});

/**
 * dx[i] = dy[i] * act'(x[i]), with v the forward output y, or the forward input x when
 * gradFromOutput(act) is false (gelu).
 */
export const actBackwardKernel = spec('act_backward', 'unary_backward', [read('dy'), read('v'), write('dx')], (call) => {
  const { buffers: { dy, v, dx }, params, overrides } = call;
  const alpha = Math.fround(params.alpha!);
  for (let i = 0; i < params.n!; i++) dx![i] = dy![i]! * actGrad(overrides.act ?? 0, v![i]!, alpha);
});

function over(kernel: KernelSpec, bindings: Record<string, BufferView>, n: number, act: Activation, alpha: number, label?: string): Launch {
  const needs = Object.fromEntries(kernel.bindings.map((b) => [b.name, n]));
  return launch(kernel, { bindings, params: { n, alpha }, overrides: { act: ACTIVATIONS[act] }, threads: n, needs, label });
}

type Forward = { input: BufferView; output: BufferView };
type Backward = { dy: BufferView; v: BufferView; dx: BufferView };

export function actForwardLaunch(bindings: Forward, n: number, act: Activation, alpha = DEFAULT_ALPHA, label?: string): Launch {
  return over(actForwardKernel, bindings, n, act, alpha, label);
}

export function actBackwardLaunch(bindings: Backward, n: number, act: Activation, alpha = DEFAULT_ALPHA, label?: string): Launch {
  return over(actBackwardKernel, bindings, n, act, alpha, label);
}
