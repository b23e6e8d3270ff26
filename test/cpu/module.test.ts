import { describe, expect, it } from 'vitest';
import { ModuleBuffer, Parameter } from '../../src/graph/parameter.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import * as nn from '../../src/nn/index.js';
import { withModuleScopes } from '../../src/nn/module.js';
import { trace } from '../../src/train/trace.js';
import { cpuBackend, expectAllClose } from '../harness.js';
import { runOp } from '../op-check.js';

class Block extends nn.Module {
  fc = new nn.Linear(4, 4);
  scale = new Parameter(Float32Array.from([1, 2, 3, 4]), [4]);
  forward(x: Tensor): Tensor {
    return this.fc.forward(x).relu().mul(this.scale);
  }
}

class Net extends nn.Module {
  embed = new nn.Linear(3, 4);
  blocks = new nn.ModuleList([new Block(), new Block()]);
  heads = new nn.ModuleDict({ out: new nn.Linear(4, 2) });
  count = new ModuleBuffer(new Float32Array(1), [1]);
  notAModule = 5;
  forward(x: Tensor): Tensor {
    let h = this.embed.forward(x);
    for (const b of this.blocks) h = h.add(b.forward(h));
    return this.heads.get('out').forward(h);
  }
}

describe('user-defined modules', () => {
  it('register fields in declaration order with torch names (own parameters before children, as torch)', () => {
    nn.manualSeed(1);
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'embed.weight', 'embed.bias',
      'blocks.0.scale', 'blocks.0.fc.weight', 'blocks.0.fc.bias',
      'blocks.1.scale', 'blocks.1.fc.weight', 'blocks.1.fc.bias',
      'heads.out.weight', 'heads.out.bias',
    ]);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['count']);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'embed', 'blocks', 'blocks.0', 'blocks.0.fc', 'blocks.1', 'blocks.1.fc', 'heads', 'heads.out']);
  });

  it('state dicts carry buffers beside parameters, per module in torch order', async () => {
    class WithStats extends nn.Module {
      fc = new nn.Linear(2, 2);
      running = new ModuleBuffer(Float32Array.from([7, 8]), [2]);
      forward(x: Tensor): Tensor {
        return this.fc.forward(x);
      }
    }
    const m = new nn.Sequential(new WithStats(), new nn.Linear(2, 1));
    const sd = await m.stateDict();
    expect(Object.keys(sd)).toEqual(['0.running', '0.fc.weight', '0.fc.bias', '1.weight', '1.bias']);
    expect(Array.from(sd['0.running']!)).toEqual([7, 8]);
    m.loadStateDict({ ...sd, '0.running': [1, 2] });
    expect(Array.from((await m.stateDict())['0.running']!)).toEqual([1, 2]);
    expect(() => m.loadStateDict({ ...sd, '0.running': [1] })).toThrow(/'0.running' has 1 values, expected 2/);
    const { ['0.running']: _, ...missing } = sd;
    expect(() => m.loadStateDict(missing)).toThrow(/missing key '0.running'/);
  });

  it('a parameter is an operand inside forward, and the result matches a hand computation', async () => {
    const block = new Block();
    block.fc.weight.write(Float32Array.from({ length: 16 }, (_, i) => (i % 5) * 0.1 - 0.2));
    block.fc.bias!.write(Float32Array.from([0.1, -0.1, 0.2, 0]));
    const x = Float32Array.from([0.5, -1, 2, 0.25, 1, 1, -1, 0]);
    const { outputs } = await runOp(cpuBackend(), (t) => withModuleScopes(block, () => block.forward(t!)), [{ shape: [2, 4], grad: false }], [x]);
    const w = block.fc.weight.data;
    const b = block.fc.bias!.data;
    const want: number[] = [];
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 4; o++) {
        let s = b[o]!;
        for (let i = 0; i < 4; i++) s += x[r * 4 + i]! * w[o * 4 + i]!;
        want.push(Math.max(s, 0) * block.scale.data[o]!);
      }
    }
    expectAllClose(outputs[0]!, want, { rtol: 1e-6 });
  });

  it('errors from a directly called child name its path', () => {
    const net = new Net();
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    (net.blocks.at(1) as Block).fc = new nn.Linear(5, 4);
    expect(() => withModuleScopes(net, () => net.forward(x))).toThrow(/blocks\.1\.fc\.Linear\(5, 4\): Linear\(5, 4\) got input \[2, 4\]/);
  });

  it('traces a model with every module scoped and its forward restored afterwards', () => {
    const net = new Net();
    const t = trace(net, { batch: 2, inputShape: [3], training: true });
    const labels = t.graph.nodes.map((n) => n.label);
    expect(labels).toContain('blocks.0.fc.Linear(4, 4)+relu');
    expect(labels).toContain('blocks.1');
    expect(Object.prototype.hasOwnProperty.call(net.blocks.at(0), 'forward')).toBe(false);
  });

  it('ModuleList and ModuleDict check their entries', () => {
    expect(() => new nn.ModuleList([5 as unknown as nn.Module])).toThrow(/entry 0 is not a Module/);
    expect(() => new nn.ModuleDict({ 'a.b': new nn.ReLU() })).toThrow(/must be non-empty and contain no '.'/);
    expect(() => new nn.ModuleDict({}).get('x')).toThrow(/no module 'x'/);
    expect(() => new nn.ModuleList().at(0)).toThrow(/index 0 is out of range/);
  });
});
