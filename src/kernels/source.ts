import common from '../../shaders/common.wgsl';
import type { ParamSpec } from '../backend/kernel.js';

/** A shader with the shared helpers of `shaders/common.wgsl` in front. */
export function withCommon(source: string): string {
  return `${common}\n${source}`;
}

/**
 * The most dimensions a strided kernel spells out in its uniform (map.wgsl, reduce_axes.wgsl):
 * one u32 member per dimension and per quantity, `${key}0` .. `${key}5`, since uniform members
 * are 4-byte scalars.
 */
export const MAX_RANK = 6;
const AXES = Array.from({ length: MAX_RANK }, (_, a) => a);

/** The members `${key}0` .. `${key}5` of each key, key after key. */
export function axisParams(...keys: string[]): ParamSpec[] {
  return keys.flatMap((key) => AXES.map((a) => ({ name: `${key}${a}`, type: 'u32' as const })));
}

/** The MAX_RANK values `${key}0` .. `${key}5` of the uniform values `p`. */
export function axisValues(p: Readonly<Record<string, number>>, key: string): number[] {
  return AXES.map((a) => p[`${key}${a}`]!);
}

/** Sets `${key}0` .. `${key}5` of `p` to `values`, MAX_RANK of them. */
export function setAxisValues(p: Record<string, number>, key: string, values: readonly number[]): void {
  AXES.forEach((a) => (p[`${key}${a}`] = values[a]!));
}
