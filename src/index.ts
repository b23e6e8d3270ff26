/**
 * Descent: train neural networks on the GPU of a web browser.
 *
 * ```ts
 * import { createDevice, nn, optim, Trainer } from 'descent';
 * const device = await createDevice();
 * const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
 * const trainer = new Trainer(device, model, {
 *   loss: new nn.CrossEntropyLoss(), optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), inputShape: [784],
 * });
 * const { loss } = trainer.step(x, y);   // returns at once
 * console.log(await loss);
 * ```
 */
export type { Backend, BackendKind } from './backend/backend.js';
export { createDevice, type Device, type DeviceOptions } from './device.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as nn from './nn/index.js';
export { Tensor, type TensorLike } from './graph/tensor.js';
export * as optim from './optim/index.js';
export type { EpochSummary, FitOptions } from './train/fit.js';
export type { Batched } from './train/batch.js';
export type { ActivationStats, HistogramOptions, LayerStats, LayerStatsOptions } from './train/layer-stats.js';
export { type NonFinitePolicy, type Scheduler, type StepDescription, type StepRecord, type StepResult, Trainer, type TrainerMemory, type TrainerOptions } from './train/trainer.js';
export { type FindLrOptions, type LrFinding, smoothLosses, suggestLr, sweepLrs } from './train/find-lr.js';
export type { Samples } from './train/batch.js';
