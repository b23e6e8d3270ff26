import common from '../../shaders/common.wgsl';

/** A shader with the shared helpers of `shaders/common.wgsl` in front. */
export function withCommon(source: string): string {
  return `${common}\n${source}`;
}
