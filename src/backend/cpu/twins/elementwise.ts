import type { CpuInvocation } from '../../kernel.js';

export function fill({ buffers, params }: CpuInvocation): void {
  buffers.out!.fill(params.value!, 0, params.n!);
}
