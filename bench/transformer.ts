/**
 * A small causal transformer, one Adam train step, Descent only (TF.js has no causal attention
 * layer to compare with). The model is the one the layers issue trains against torch in
 * test/models-fixtures.ts (token embedding, learned positions, pre-norm blocks of multi-head
 * causal attention through `F.scaledDotProductAttention` and a GELU MLP with residuals, final
 * LayerNorm, head), written with the public API, at a size where a step does real work: at the
 * fixture's size (vocab 11, 5 tokens, width 8) it would only measure launch overhead.
 */
import type { Device } from '../src/device.js';
import type { Tensor } from '../src/graph/tensor.js';
import * as nn from '../src/nn/index.js';
import * as optim from '../src/optim/index.js';
import { Trainer } from '../src/train/trainer.js';
import type { GpuCounter } from './counting-gpu.js';
import { generator, type StepBench, trainerSide } from './mlp.js';
import type { Prepared, WindowPlan } from './timing.js';

const F = nn.functional;

export const GPT = { vocab: 64, tokens: 32, width: 64, heads: 4, blocks: 2, batch: 16 } as const;
const BATCHES = 4;

export const GPT_TITLE =
  `vocab ${GPT.vocab}, ${GPT.tokens} tokens, width ${GPT.width}, ${GPT.heads} heads, ${GPT.blocks} blocks ` +
  `(MLP ${2 * GPT.width}, GELU), batch ${GPT.batch}, next-token cross-entropy over ${GPT.batch * GPT.tokens} positions, Adam 1e-3`;

class Block extends nn.Module {
  ln1 = new nn.LayerNorm(GPT.width);
  qkv = new nn.Linear(GPT.width, 3 * GPT.width);
  proj = new nn.Linear(GPT.width, GPT.width);
  ln2 = new nn.LayerNorm(GPT.width);
  fc1 = new nn.Linear(GPT.width, 2 * GPT.width);
  fc2 = new nn.Linear(2 * GPT.width, GPT.width);

  forward(x: Tensor): Tensor {
    const [b, t] = x.shape as [number, number];
    const d = GPT.width;
    const [q, k, v] = this.qkv.forward(this.ln1.forward(x)).reshape(b, t, 3, GPT.heads, d / GPT.heads).permute(2, 0, 3, 1, 4).unbind(0);
    const y = F.scaledDotProductAttention(q!, k!, v!, { isCausal: true });
    const h = x.add(this.proj.forward(y.transpose(1, 2).reshape(b, t, d)));
    return h.add(this.fc2.forward(F.gelu(this.fc1.forward(this.ln2.forward(h)))));
  }
}

class SmallGPT extends nn.Module {
  tok = new nn.Embedding(GPT.vocab, GPT.width);
  pos = new nn.Parameter(new Float32Array(GPT.tokens * GPT.width), [GPT.tokens, GPT.width]);
  blocks = new nn.ModuleList(Array.from({ length: GPT.blocks }, () => new Block()));
  ln = new nn.LayerNorm(GPT.width);
  head = new nn.Linear(GPT.width, GPT.vocab);

  forward(ids: Tensor): Tensor {
    let h = this.tok.forward(ids).add(this.pos);
    for (const block of this.blocks) h = block.forward(h);
    return this.head.forward(this.ln.forward(h)).reshape(-1, GPT.vocab);
  }
}

/** Parameters of the model, for the report. */
export function gptParameters(): number {
  nn.manualSeed(4);
  return new SmallGPT().parameters().reduce((n, p) => n + p.numel, 0);
}

export function descentGptStep(device: Device, counter: GpuCounter | undefined, plan: WindowPlan, label: string): Prepared<StepBench> {
  nn.manualSeed(4);
  const model = new SmallGPT();
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer, inputShape: [GPT.tokens] });
  const rand = generator(13);
  const n = GPT.batch * GPT.tokens;
  const ids: Int32Array[] = [];
  const next: Int32Array[] = [];
  for (let b = 0; b < BATCHES; b++) {
    // A sequence and its shift by one: the targets are the next tokens.
    const seq = Int32Array.from({ length: n + 1 }, () => Math.floor(rand() * GPT.vocab));
    ids.push(seq.slice(0, n));
    next.push(seq.slice(1));
  }
  return trainerSide(trainer, counter, plan, label, (i) => [ids[i % BATCHES]!, next[i % BATCHES]!]);
}
