// `npm run train -- [options]`: builds the MNIST binary when it is missing, then runs scripts/train.ts.
import { existsSync } from 'node:fs';
import { buildData } from './build-data.mjs';
import { runTs } from './run-ts.mjs';

const args = process.argv.slice(2);
if (!args.includes('--data') && !existsSync('demo/dist/mnist.bin')) {
  const { out, train, test } = await buildData();
  console.log(`wrote ${out}: ${train} training and ${test} held-out digits`);
}
process.exit(await runTs('scripts/train.ts', args));
