/**
 * Whole training steps of a CNN, an MLP with normalisation layers and a small causal transformer
 * against torch (test/fixtures/models.json, made by gen_models.py): each model is built here with
 * the public API, loaded with torch's initial state dict, trained through the Trainer on the same
 * batches, and compared step by step (loss, parameters, running statistics) and in eval mode.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Device } from '../src/device.js';
import type { Tensor } from '../src/graph/tensor.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import { expectAllClose } from './harness.js';

const F = nn.functional;

interface Batch {
  x: number[];
  xShape: number[];
  y: number[];
  yShape: number[];
}

export interface ModelCase {
  name: 'cnn' | 'mlp' | 'transformer';
  init: Record<string, number[]>;
  shapes: Record<string, number[]>;
  data: Batch[];
  losses: number[];
  states: Record<string, number[]>[];
  eval: number[];
}

export const fixture: { steps: number; lr: number; momentum: number; models: ModelCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/models.json', import.meta.url), 'utf8'),
);

const VOCAB = 11;
const T = 5;
const D = 8;
const HEADS = 2;

/** One pre-norm transformer block, written over the public Tensor API. */
export class Block extends nn.Module {
  ln1 = new nn.LayerNorm(D);
  qkv = new nn.Linear(D, 3 * D);
  proj = new nn.Linear(D, D);
  ln2 = new nn.LayerNorm(D);
  fc1 = new nn.Linear(D, 2 * D);
  fc2 = new nn.Linear(2 * D, D);

  forward(x: Tensor): Tensor {
    const [b, t] = x.shape as [number, number];
    const [q, k, v] = this.qkv.forward(this.ln1.forward(x)).reshape(b, t, 3, HEADS, D / HEADS).permute(2, 0, 3, 1, 4).unbind(0);
    const y = F.scaledDotProductAttention(q!, k!, v!, { isCausal: true });
    const h = x.add(this.proj.forward(y.transpose(1, 2).reshape(b, t, D)));
    return h.add(this.fc2.forward(F.gelu(this.fc1.forward(this.ln2.forward(h)))));
  }
}

/** A causal language model: token embedding, learned positions, blocks, final norm, head. */
export class TinyGPT extends nn.Module {
  tok = new nn.Embedding(VOCAB, D);
  pos = new nn.Parameter(new Float32Array(T * D), [T, D]);
  blocks = new nn.ModuleList([new Block()]);
  ln = new nn.LayerNorm(D);
  head = new nn.Linear(D, VOCAB);

  forward(ids: Tensor): Tensor {
    let h = this.tok.forward(ids).add(this.pos);
    for (const block of this.blocks) h = block.forward(h);
    return this.head.forward(this.ln.forward(h)).reshape(-1, VOCAB);
  }
}

export const MODELS: Record<ModelCase['name'], () => { model: nn.Module; loss: nn.Loss; inputShape: number[] }> = {
  cnn: () => ({
    model: new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1 }), new nn.ReLU(), new nn.AvgPool2d(2), new nn.Flatten(), new nn.Linear(6, 3)),
    loss: new nn.CrossEntropyLoss(),
    inputShape: [1, 8, 8],
  }),
  mlp: () => ({
    model: new nn.Sequential(new nn.Linear(5, 8), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Linear(8, 8), new nn.LayerNorm(8), new nn.Tanh(), new nn.Linear(8, 2)),
    loss: new nn.BCEWithLogitsLoss(),
    inputShape: [5],
  }),
  transformer: () => ({ model: new TinyGPT(), loss: new nn.CrossEntropyLoss(), inputShape: [T] }),
};

function inputOf(b: Batch, name: ModelCase['name']): Float32Array | Int32Array {
  return name === 'transformer' ? Int32Array.from(b.x) : Float32Array.from(b.x);
}

function targetOf(b: Batch, name: ModelCase['name']): Float32Array | Int32Array {
  return name === 'mlp' ? Float32Array.from(b.y) : Int32Array.from(b.y);
}

/**
 * Trains `c` on `device` and compares with torch: losses, every parameter and buffer after each
 * step, and the eval-mode output, within `rtol` relative (plus a small absolute floor).
 */
export async function replay(device: Device, c: ModelCase, { rtol, atol }: { rtol: number; atol: number }): Promise<Trainer> {
  const { model, loss, inputShape } = MODELS[c.name]();
  model.loadStateDict(c.init);
  const optimizer = new optim.SGD(model.parameters(), { lr: fixture.lr, momentum: fixture.momentum });
  const trainer = new Trainer(device, model, { loss, optimizer, inputShape, onNonFinite: 'throw' });
  for (let step = 0; step < c.losses.length; step++) {
    const b = c.data[step % c.data.length]!;
    const { loss: l } = trainer.step(inputOf(b, c.name), targetOf(b, c.name));
    const got = await l;
    expect(Math.abs(got - c.losses[step]!), `${c.name} loss of step ${step}: ${got} vs torch ${c.losses[step]}`).toBeLessThanOrEqual(atol + rtol * Math.abs(c.losses[step]!));
    const state = await model.stateDict();
    for (const [name, want] of Object.entries(c.states[step]!)) {
      expect(state[name], `${c.name}: '${name}' missing from the state dict`).toBeDefined();
      expectAllClose(state[name]!, want, { rtol, atol, label: `${c.name} step ${step} '${name}'` });
    }
  }
  const out = await trainer.predict(inputOf(c.data[0]!, c.name));
  expectAllClose(out, c.eval, { rtol, atol, label: `${c.name} eval output` });
  return trainer;
}
