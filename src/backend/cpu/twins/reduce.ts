// Kept only for the kernels that still import it; the twin lives in src/kernels/reduce.ts.
export { treeSum } from '../../../kernels/reduce.js';
