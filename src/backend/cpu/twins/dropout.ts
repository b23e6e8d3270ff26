import type { CpuInvocation } from '../../kernel.js';
import { randomQuad, uniform24 } from './random.js';

/** Twins of shaders/dropout.wgsl: the same quads of four words, the same f32 comparisons. */

export function dropout({ buffers, params }: CpuInvocation): void {
  const { step_info: info, input, output } = buffers;
  const n = params.n!;
  const p = Math.fround(params.p!);
  const scale = Math.fround(params.scale!);
  const words = new Uint32Array(4);
  for (let first = 0, quad = 0; first < n; first += 4, quad++) {
    randomQuad(info![0]!, info![1]!, params.stream!, quad, words);
    const lanes = Math.min(4, n - first);
    for (let lane = 0; lane < lanes; lane++) {
      const i = first + lane;
      output![i] = uniform24(words[lane]!) >= p ? input![i]! * scale : 0;
    }
  }
}

export function dropoutBits({ buffers, params }: CpuInvocation): void {
  const { step_info: info, bits } = buffers;
  const n = params.n!;
  const words = new Uint32Array(4);
  for (let first = 0, quad = 0; first < n; first += 4, quad++) {
    randomQuad(info![0]!, info![1]!, params.stream!, quad, words);
    const lanes = Math.min(4, n - first);
    for (let lane = 0; lane < lanes; lane++) bits![first + lane] = words[lane]!;
  }
}
