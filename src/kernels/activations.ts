/**
 * Activation codes shared by WGSL (`shaders/activations.wgsl`) and the CPU twins. The backward
 * of kinds other than gelu is computed from the activation's output, so a fused forward needs to
 * keep only its output.
 */
export const ACTIVATIONS = {
  identity: 0,
  relu: 1,
  leaky_relu: 2,
  sigmoid: 3,
  tanh: 4,
  gelu: 5,
} as const;

export type Activation = keyof typeof ACTIVATIONS;

/** True when the derivative is expressed through the output y (so backward needs only y). */
export function gradFromOutput(act: Activation): boolean {
  return act !== 'gelu';
}
