import source from '../../shaders/dropout.wgsl';
import random from '../../shaders/random.wgsl';
import type { BindingSpec, BufferView, CpuInvocation, KernelSpec, Launch, ParamSpec } from '../backend/kernel.js';
import { launch } from './launch.js';
import { randomQuad, uniform24 } from './random.js';
import { withCommon } from './source.js';

/**
 * Inverted dropout with masks regenerated from (seed, step, stream, element) by Philox4x32-10
 * (shaders/dropout.wgsl, shaders/random.wgsl). One kernel serves forward (x to y) and backward
 * (dy to dx): both multiply by the same mask and the same scale 1 / (1 - p). The twins draw the
 * same quads of four words and make the same f32 comparisons.
 */

const wgsl = withCommon(`${random}\n${source}`);
/** Elements per invocation: one Philox call yields four words. */
const QUAD = 4;

const params: readonly ParamSpec[] = [
  { name: 'n', type: 'u32' },
  { name: 'stream', type: 'u32' },
  { name: 'p', type: 'f32' },
  { name: 'scale', type: 'f32' },
];

/** Calls `visit(i, word)` for every element i < n with its random word, a quad at a time. */
function eachWord({ buffers, params }: CpuInvocation, visit: (i: number, word: number) => void): void {
  const info = buffers.step_info!;
  const words = new Uint32Array(QUAD);
  for (let first = 0, quad = 0; first < params.n!; first += QUAD, quad++) {
    randomQuad(info[0]!, info[1]!, params.stream!, quad, words);
    const lanes = Math.min(QUAD, params.n! - first);
    for (let lane = 0; lane < lanes; lane++) visit(first + lane, words[lane]!);
  }
}

function spec(name: string, output: BindingSpec[], cpu: KernelSpec['cpu']): KernelSpec {
  const bindings: BindingSpec[] = [{ name: 'step_info', type: 'u32', access: 'read' }, ...output];
  return { name, wgsl, entry: name, params, bindings, overrides: { wg: 256 }, cpu };
}

/**
 * output[i] = keep(i) ? input[i] * scale : 0, keep(i) = uniform24(word(seed, step, stream, i)) >= p.
 * Bindings: step_info (u32 read: [seed, step, 0, 0]), input (read), output (read_write).
 */
export const dropout = spec(
  'dropout',
  [
    { name: 'input', type: 'f32', access: 'read' },
    { name: 'output', type: 'f32', access: 'read_write' },
  ],
  (call) => {
    const { input, output } = call.buffers;
    const p = Math.fround(call.params.p!);
    const scale = Math.fround(call.params.scale!);
    eachWord(call, (i, word) => (output![i] = uniform24(word) >= p ? input![i]! * scale : 0));
  },
);

/** bits[i] = word(seed, step, stream, i): the raw words behind the masks. Bindings: step_info, bits (u32). */
export const dropoutBits = spec('dropout_bits', [{ name: 'bits', type: 'u32', access: 'read_write' }], (call) => {
  const bits = call.buffers.bits!;
  eachWord(call, (i, word) => (bits[i] = word));
});

/** The survivors' factor 1 / (1 - p) in float32; 0 for p = 1, where nothing survives. */
export function dropoutScale(p: number): number {
  return p >= 1 ? 0 : Math.fround(1 / (1 - p));
}

function over(kernel: KernelSpec, bindings: Record<string, BufferView>, n: number, p: number, stream: number, label?: string): Launch {
  const who = label ?? kernel.name;
  if (!(p >= 0 && p <= 1)) throw new Error(`${who}: dropout probability must be in [0, 1], got ${p}`);
  if (!(Number.isInteger(stream) && stream >= 0 && stream < 2 ** 32)) throw new Error(`${who}: stream must be a u32, got ${stream}`);
  const needs = Object.fromEntries(kernel.bindings.map((b) => [b.name, b.name === 'step_info' ? 2 : n]));
  const scale = kernel === dropout ? dropoutScale(p) : 1;
  return launch(kernel, { bindings, params: { n, stream, p, scale }, threads: Math.ceil(n / QUAD), needs, label });
}

export function dropoutLaunch(
  bindings: { step_info: BufferView; input: BufferView; output: BufferView },
  n: number,
  p: number,
  stream: number,
  label?: string,
): Launch {
  return over(dropout, bindings, n, p, stream, label);
}

export function dropoutBitsLaunch(bindings: { step_info: BufferView; bits: BufferView }, n: number, stream: number, label?: string): Launch {
  return over(dropoutBits, bindings, n, 0, stream, label);
}
