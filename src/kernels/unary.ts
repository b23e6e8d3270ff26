import activations from '../../shaders/activations.wgsl';
import source from '../../shaders/unary.wgsl';
import * as twin from '../backend/cpu/twins/unary.js';
import type { BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { ACTIVATIONS, type Activation } from './activations.js';
import { withCommon } from './source.js';

/**
 * Activation forward and backward (shaders/unary.wgsl). The override `act` holds a code of
 * ACTIVATIONS; the uniform `alpha` is leaky_relu's negative slope (ignored by other kinds).
 */

const wgsl = withCommon(`${activations}\n${source}`);
const WG = 256;

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'alpha', type: 'f32' },
];

/** torch.nn.LeakyReLU's default negative slope. */
export const DEFAULT_ALPHA = 0.01;

/** output[i] = act(input[i]). Bindings: input (read), output (read_write). */
export const actForward: KernelSpec = {
  name: 'act_forward',
  wgsl,
  entry: 'unary_forward',
  params,
  bindings: [
    { name: 'input', type: 'f32', access: 'read' },
    { name: 'output', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG, act: 0 },
  cpu: twin.actForward,
};

/**
 * dx[i] = dy[i] * act'(x[i]). Bindings: dy (read), v (read: the forward output y, or the
 * forward input x when gradFromOutput(act) is false, i.e. for gelu), dx (read_write).
 */
export const actBackward: KernelSpec = {
  name: 'act_backward',
  wgsl,
  entry: 'unary_backward',
  params,
  bindings: [
    { name: 'dy', type: 'f32', access: 'read' },
    { name: 'v', type: 'f32', access: 'read' },
    { name: 'dx', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG, act: 0 },
  cpu: twin.actBackward,
};

function launch(
  kernel: KernelSpec,
  bindings: Record<string, BufferView>,
  n: number,
  act: Activation,
  alpha: number,
  label?: string,
): Launch {
  for (const [name, v] of Object.entries(bindings)) {
    if (v.length < n) throw new Error(`${label ?? kernel.name}: binding '${name}' holds ${v.length} elements, needs ${n}`);
  }
  return { kernel, bindings, params: { n, alpha }, overrides: { act: ACTIVATIONS[act] }, workgroups: grid1d(n, WG), label };
}

export function actForwardLaunch(
  bindings: { input: BufferView; output: BufferView },
  n: number,
  act: Activation,
  alpha = DEFAULT_ALPHA,
  label?: string,
): Launch {
  return launch(actForward, bindings, n, act, alpha, label);
}

export function actBackwardLaunch(
  bindings: { dy: BufferView; v: BufferView; dx: BufferView },
  n: number,
  act: Activation,
  alpha = DEFAULT_ALPHA,
  label?: string,
): Launch {
  return launch(actBackward, bindings, n, act, alpha, label);
}
