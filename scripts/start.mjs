// `npm start`: builds the library bundles, the demo bundle (both via `npm run build`, see
// esbuild.config.mjs) and the MNIST binary, then serves the demo folder on
// http://127.0.0.1:PORT (PORT, default 8080) with a plain static server. Nothing is fetched from
// the network. The browser test imports buildDemo and serveDemo from here.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildData } from './build-data.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const demo = join(root, 'demo');

/** Builds everything the page loads: dist/ (library), demo/dist/main.js and demo/dist/mnist.bin. */
export async function buildDemo({ log = console.log } = {}) {
  log('building the library and the demo bundle (npm run build)…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(join(demo, 'dist/main.js'))) throw new Error('npm run build did not write demo/dist/main.js (see esbuild.config.mjs)');
  const { out, train, test } = await buildData();
  log(`wrote ${relative(root, out)}: ${train} training and ${test} held-out digits`);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Serves demo/ (index.html, style.css, dist/) on host:port; port 0 picks a free one. */
export function serveDemo({ port = 8080, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    let file = resolve(demo, `.${path}`);
    if (file !== demo && !file.startsWith(demo + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolvePromise({
        url: `http://${host}:${actual}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildDemo();
  const port = Number(process.env.PORT ?? 8080);
  try {
    const { url } = await serveDemo({ port });
    console.log(`\nThe Descent lab is at ${url}  (Ctrl+C to stop)`);
  } catch (e) {
    if (e.code === 'EADDRINUSE') {
      console.error(`Port ${port} is in use; start on another one with PORT=8081 npm start`);
      process.exit(1);
    }
    throw e;
  }
}
