import { dropout } from '../graph/ops/dropout.js';
import type { Tensor } from '../graph/tensor.js';
import { Module } from './module.js';

/**
 * Inverted dropout, as torch.nn.Dropout(p): while training, each element is zeroed with
 * probability `p` and the survivors are scaled by 1 / (1 - p), so the expected output is the
 * input and evaluation needs no rescaling; in eval mode the layer is the identity (no node).
 * This is the standard form: a "dropout probability" of rate × uniform(0, 1), as some course
 * notes write it, is neither a Bernoulli mask nor unbiased.
 *
 * The mask is counter-based: element i's bit is a pure function of (seed, step, layer, i) through
 * Philox4x32-10 (see shaders/random.wgsl), identical on WebGPU and on the CPU backend, and
 * backward regenerates it rather than storing it. The trainer's `seed` fixes every mask; each
 * step draws new ones. p = 0 is the identity in training too; p = 1 gives zeros.
 */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new Error(`Dropout: p must be a probability in [0, 1], got ${p}`);
    }
  }

  forward(x: Tensor): Tensor {
    const g = x.graph;
    if (!this.training || !g.training || this.p === 0) return x;
    return g.scope(this.describe(), () => dropout(x, this.p));
  }

  override describe(): string {
    return `Dropout(p=${this.p})`;
  }
}
