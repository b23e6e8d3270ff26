// Kept only for the kernels that still import it (matmul, conv2d); the twins live in src/kernels/activations.ts.
export { actForward, actGrad, erfApprox } from '../../../kernels/activations.js';
