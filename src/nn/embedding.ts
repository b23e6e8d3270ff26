import { normal } from '../data/random.js';
import { embedding, type EmbeddingOptions, normalizePaddingIdx } from '../graph/ops/embedding.js';
import { Parameter } from '../graph/parameter.js';
import type { Tensor } from '../graph/tensor.js';
import { random } from './init.js';
import { Module } from './module.js';

/**
 * torch.nn.Embedding: a table `weight` [numEmbeddings, embeddingDim] looked up by int32 ids of
 * any shape, giving [...ids.shape, embeddingDim]. Initialised N(0, 1) as in torch, with the
 * `paddingIdx` row (negative counts from the end) zeroed; that row never gets a gradient, so it
 * stays as it is through training. Ids must lie in [0, numEmbeddings).
 */
export class Embedding extends Module {
  readonly weight: Parameter;
  /** The padding row in [0, numEmbeddings), or null. */
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    { paddingIdx }: EmbeddingOptions = {},
  ) {
    super();
    for (const [name, v] of [['numEmbeddings', numEmbeddings], ['embeddingDim', embeddingDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Embedding: ${name} must be a positive integer, got ${v}`);
    }
    this.paddingIdx = normalizePaddingIdx(paddingIdx, numEmbeddings, `Embedding(${numEmbeddings}, ${embeddingDim})`);
    const data = new Float32Array(numEmbeddings * embeddingDim);
    for (let i = 0; i < data.length; i++) data[i] = normal(random);
    if (this.paddingIdx !== null) data.fill(0, this.paddingIdx * embeddingDim, (this.paddingIdx + 1) * embeddingDim);
    this.weight = new Parameter(data, [numEmbeddings, embeddingDim]);
  }

  override describe(): string {
    return `Embedding(${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`})`;
  }

  forward(ids: Tensor): Tensor {
    const g = ids.graph;
    return g.scope(this.describe(), () => {
      if (ids.dtype !== 'i32') throw new Error(`${g.currentLabel}: expected int32 ids, got ${ids.dtype} [${ids.shape.join(', ')}]`);
      return embedding(ids, g.param(this.weight), { paddingIdx: this.paddingIdx });
    });
  }
}
