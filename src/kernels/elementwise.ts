import source from '../../shaders/elementwise.wgsl';
import * as twin from '../backend/cpu/twins/elementwise.js';
import type { KernelSpec } from '../backend/kernel.js';
import { withCommon } from './source.js';

const wgsl = withCommon(source);

/** out[i] = value for i < n. */
export const fill: KernelSpec = {
  name: 'fill',
  wgsl,
  entry: 'fill',
  params: [
    { name: 'n', type: 'u32' },
    { name: 'value', type: 'f32' },
  ],
  bindings: [{ name: 'out', type: 'f32', access: 'read_write' }],
  overrides: { wg: 256 },
  cpu: twin.fill,
};
