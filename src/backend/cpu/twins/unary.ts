import type { CpuInvocation } from '../../kernel.js';
import { actForward as forward, actGrad } from './activations.js';

/** Twins of shaders/unary.wgsl. */

export function actForward({ buffers, params, overrides }: CpuInvocation): void {
  const { input, output } = buffers;
  const kind = overrides.act ?? 0;
  const alpha = Math.fround(params.alpha!);
  for (let i = 0; i < params.n!; i++) output![i] = forward(kind, input![i]!, alpha);
}

export function actBackward({ buffers, params, overrides }: CpuInvocation): void {
  const { dy, v, dx } = buffers;
  const kind = overrides.act ?? 0;
  const alpha = Math.fround(params.alpha!);
  for (let i = 0; i < params.n!; i++) dx![i] = dy![i]! * actGrad(kind, v![i]!, alpha);
}
