import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The built library as a user imports it: `import { ... } from 'descent'`, resolved through package.json exports. */
describe('the built package', () => {
  it("imports as 'descent' from the repository root and trains on the CPU", () => {
    const script = `
      import { createDevice, nn, optim, Trainer, data } from 'descent';
      const device = await createDevice({ backend: 'cpu' });
      const set = data.synthetic('moons', { n: 120, seed: 3 });
      nn.manualSeed(1);
      const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 2));
      const trainer = new Trainer(device, model, { loss: new nn.CrossEntropyLoss(), optimizer: new optim.Adam(model.parameters(), { lr: 0.05 }), inputShape: [2] });
      const epochs = await trainer.fit(set, { epochs: 15, batchSize: 40 });
      console.log(JSON.stringify({ first: epochs[0].loss, last: epochs.at(-1).loss, names: Object.keys(await model.stateDict()) }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' }));
    expect(out.names).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(out.last).toBeLessThan(out.first * 0.75);
  });
});
