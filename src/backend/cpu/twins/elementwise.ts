import type { CpuInvocation } from '../../kernel.js';

/** Twins of shaders/elementwise.wgsl; Float32Array stores round each result like the GPU. */

export function fill({ buffers, params }: CpuInvocation): void {
  buffers.out!.fill(params.value!, 0, params.n!);
}

export function copy({ buffers, params }: CpuInvocation): void {
  buffers.out!.set(buffers.x!.subarray(0, params.n!));
}

export function add({ buffers, params }: CpuInvocation): void {
  const { a, b, out } = buffers;
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! + b![i]!;
}

export function mul({ buffers, params }: CpuInvocation): void {
  const { a, b, out } = buffers;
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! * b![i]!;
}

export function scale({ buffers, params }: CpuInvocation): void {
  const { x, out } = buffers;
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) out![i] = s * x![i]!;
}

export function addScaled({ buffers, params }: CpuInvocation): void {
  const { a, b, out } = buffers;
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) out![i] = a![i]! + Math.fround(s * b![i]!);
}

export function axpy({ buffers, params }: CpuInvocation): void {
  const { x, y } = buffers;
  const s = Math.fround(params.value!);
  for (let i = 0; i < params.n!; i++) y![i] = y![i]! + Math.fround(s * x![i]!);
}
