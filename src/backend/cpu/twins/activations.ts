// Kept only for twins/matmul.ts until it moves into src/kernels/matmul.ts.
export { actForward, actGrad, erfApprox } from '../../../kernels/activations.js';
