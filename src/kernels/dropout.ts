import source from '../../shaders/dropout.wgsl';
import random from '../../shaders/random.wgsl';
import * as twin from '../backend/cpu/twins/dropout.js';
import type { BufferView, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { grid1d } from '../backend/kernel.js';
import { withCommon } from './source.js';

/**
 * Inverted dropout with masks regenerated from (seed, step, stream, element) by Philox4x32-10
 * (shaders/dropout.wgsl, shaders/random.wgsl). One kernel serves forward (x to y) and backward
 * (dy to dx): both multiply by the same mask and the same scale 1 / (1 - p).
 */

const wgsl = withCommon(`${random}\n${source}`);
const WG = 256;
/** Elements per invocation: one Philox call yields four words. */
const QUAD = 4;

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'stream', type: 'u32' },
  { name: 'p', type: 'f32' },
  { name: 'scale', type: 'f32' },
];

/**
 * output[i] = keep(i) ? input[i] * scale : 0, keep(i) = uniform24(word(seed, step, stream, i)) >= p.
 * Bindings: step_info (u32 read: [seed, step, 0, 0]), input (read), output (read_write).
 */
export const dropout: KernelSpec = {
  name: 'dropout',
  wgsl,
  entry: 'dropout',
  params,
  bindings: [
    { name: 'step_info', type: 'u32', access: 'read' },
    { name: 'input', type: 'f32', access: 'read' },
    { name: 'output', type: 'f32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: twin.dropout,
};

/** bits[i] = word(seed, step, stream, i): the raw words behind the masks. */
export const dropoutBits: KernelSpec = {
  name: 'dropout_bits',
  wgsl,
  entry: 'dropout_bits',
  params,
  bindings: [
    { name: 'step_info', type: 'u32', access: 'read' },
    { name: 'bits', type: 'u32', access: 'read_write' },
  ],
  overrides: { wg: WG },
  cpu: twin.dropoutBits,
};

/** The survivors' factor 1 / (1 - p) in float32; 0 for p = 1, where nothing survives. */
export function dropoutScale(p: number): number {
  return p >= 1 ? 0 : Math.fround(1 / (1 - p));
}

function check(label: string, bindings: Record<string, BufferView>, n: number, stream: number, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`${label}: dropout probability must be in [0, 1], got ${p}`);
  if (!(Number.isInteger(stream) && stream >= 0 && stream < 2 ** 32)) throw new Error(`${label}: stream must be a u32, got ${stream}`);
  for (const [name, v] of Object.entries(bindings)) {
    const need = name === 'step_info' ? 2 : n;
    if (v.length < need) throw new Error(`${label}: binding '${name}' holds ${v.length} elements, needs ${need}`);
  }
}

export function dropoutLaunch(
  bindings: { step_info: BufferView; input: BufferView; output: BufferView },
  n: number,
  p: number,
  stream: number,
  label?: string,
): Launch {
  check(label ?? 'dropout', bindings, n, stream, p);
  return {
    kernel: dropout,
    bindings,
    params: { n, stream, p, scale: dropoutScale(p) },
    workgroups: grid1d(Math.ceil(n / QUAD), WG),
    label,
  };
}

export function dropoutBitsLaunch(bindings: { step_info: BufferView; bits: BufferView }, n: number, stream: number, label?: string): Launch {
  check(label ?? 'dropout_bits', bindings, n, stream, 0);
  return { kernel: dropoutBits, bindings, params: { n, stream, p: 0, scale: 1 }, workgroups: grid1d(Math.ceil(n / QUAD), WG), label };
}
