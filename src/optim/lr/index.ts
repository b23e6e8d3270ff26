/** Learning-rate schedules (`optim.lr`): torch.optim.lr_scheduler semantics, plus signal-driven ones. */
export {
  type AverageNormState, ClosedFormLR, type DeviceSchedule, type EpochSignal, LRScheduler, type OptimizerLike, type StepSignal, type TrainingHooks,
} from './scheduler.js';
export { StepLR, type StepLROptions } from './step.js';
export { MultiStepLR, type MultiStepLROptions } from './multi-step.js';
export { ExponentialLR, type ExponentialLROptions } from './exponential.js';
export { CosineAnnealingLR, type CosineAnnealingLROptions } from './cosine-annealing.js';
export { LinearLR, type LinearLROptions } from './linear.js';
export { PolynomialLR, type PolynomialLROptions } from './polynomial.js';
export { InverseTimeLR, type InverseTimeLROptions } from './inverse-time.js';
export { LambdaLR, type LambdaLROptions, type LrLambda } from './lambda.js';
export { SequentialLR, type SequentialLROptions } from './sequential.js';
export { OneCycleLR, type OneCycleLROptions } from './one-cycle.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './reduce-on-plateau.js';
export { GradientNormLR, type GradientNormLROptions } from './gradient-norm.js';
export { AverageGradientLR, type AverageGradientLROptions } from './average-gradient.js';
export { BoldDriver, type BoldDriverOptions } from './bold-driver.js';
