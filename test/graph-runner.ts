/**
 * Runs a model's forward + backward on a backend through the graph compiler, without an
 * optimizer: the loss and the gradient of every parameter, for gradient checks and GPU parity.
 */
import type { Backend } from '../src/backend/backend.js';
import type { BufferView } from '../src/backend/kernel.js';
import { gradients } from '../src/graph/autodiff.js';
import { compileGraph } from '../src/graph/compile.js';
import { fuseActivations } from '../src/graph/fuse.js';
import { Graph, STEP_INFO, type Tensor } from '../src/graph/tensor.js';
import type { Loss } from '../src/nn/loss.js';
import { type Module, withModuleScopes } from '../src/nn/module.js';

export interface ForwardBackward {
  loss: number;
  output: Float32Array;
  grads: Record<string, Float32Array>;
  launches: number;
  scratchBytes: number;
  unplannedBytes: number;
}

export async function forwardBackward(
  backend: Backend,
  model: Module,
  lossFn: Loss,
  x: Float32Array,
  inputShape: number[],
  y: Int32Array | Float32Array,
  { seed = 0, step = 0 } = {},
): Promise<ForwardBackward> {
  const batch = x.length / inputShape.reduce((a, b) => a * b, 1);
  const g = new Graph();
  const xt = g.input('x', [batch, ...inputShape]);
  let out = withModuleScopes(model, () => model.forward(xt));
  const yt = lossFn.targets === 'class' ? g.input('y', [batch], 'i32') : g.input('y', out.shape);
  const { loss } = lossFn.apply(out, yt);
  out = fuseActivations(g)(out);
  const named = model.namedParameters();
  const grads = gradients(g, loss, named.map(([, p]) => g.param(p)));

  const made: ReturnType<Backend['createBuffer']>[] = [];
  const buffer = (data: ArrayBufferView & { length: number }, label: string): BufferView => {
    const b = backend.createBuffer(Math.max(4, data.byteLength), label);
    backend.write(b, data);
    made.push(b);
    return { buffer: b, offset: 0, length: data.length };
  };
  const bound = new Map<Tensor, BufferView>([
    [xt, buffer(x, 'x')],
    [yt, buffer(y, 'y')],
  ]);
  for (const [name, p] of named) bound.set(g.param(p), buffer(p.data, name));
  const info = g.inputs.get(STEP_INFO);
  if (info) bound.set(info, buffer(new Int32Array([seed, step, 0, 0]), 'step_info'));
  const outputs = [loss, out, ...grads.filter((d): d is Tensor => d !== null)];
  const compiled = compileGraph(backend, { graph: g, bound, outputs, label: 'test', poison: true });
  const program = backend.compile(compiled.launches, 'test');
  backend.run(program);
  await backend.idle();
  await backend.health();
  const read = async (t: Tensor) => {
    const v = compiled.views.get(t)!;
    return new Float32Array(await backend.read(v.buffer, v.offset * 4, v.length * 4));
  };
  const result: ForwardBackward = {
    loss: (await read(loss))[0]!,
    output: await read(out),
    grads: {},
    launches: compiled.launches.length,
    scratchBytes: compiled.scratchBytes,
    unplannedBytes: compiled.unplannedBytes,
  };
  for (let i = 0; i < named.length; i++) {
    const d = grads[i];
    result.grads[named[i]![0]] = d ? await read(d) : new Float32Array(named[i]![1].numel);
  }
  await backend.health();
  program.dispose();
  compiled.dispose();
  for (const b of made) backend.destroyBuffer(b);
  return result;
}
