export { Adadelta, type AdadeltaOptions } from './adadelta.js';
export { Adagrad, type AdagradOptions } from './adagrad.js';
export { Adam, AdamFamily, type AdamOptions } from './adam.js';
export { Adamax, type AdamaxOptions } from './adamax.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { Lion, type LionOptions } from './lion.js';
export { NAdam, type NAdamOptions } from './nadam.js';
export {
  type DeviceState,
  type GroupUpdate,
  groupLayout,
  Optimizer,
  type OptimizerStateDict,
  type OptionRule,
  type ParamGroup,
  type ParamGroupInput,
  type ParamGroupOptions,
  type ParamsInput,
} from './optimizer.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { SGD, type SGDOptions } from './sgd.js';
export { type FlatLayout, packParameters, planUpdate, STATS, type UpdateOptions, type UpdatePlan } from './update-plan.js';
export * as lr from './lr/index.js';
