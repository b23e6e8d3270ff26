// Kept only for src/kernels/conv2d.ts until it imports src/kernels/activations.ts, where the twins live.
export { actForward, actGrad, erfApprox } from '../../../kernels/activations.js';
