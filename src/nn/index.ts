export { GELU, Identity, LeakyReLU, ReLU, Sigmoid, Tanh } from './activation.js';
export { Flatten, Residual, Sequential } from './container.js';
export { Dropout } from './dropout.js';
export { manualSeed } from './init.js';
export { Linear, type LinearOptions } from './linear.js';
export { CrossEntropyLoss, type Loss, MSELoss } from './loss.js';
export { Module } from './module.js';
export { Parameter } from '../graph/parameter.js';
