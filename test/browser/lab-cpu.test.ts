/**
 * The lab and the embedding example in Chromium started without the WebGPU flags: the lab says
 * why it trains on the CPU backend, trains in its worker with the page's thread free (no long
 * task over 50 ms), reproduces a run from its link, exports a model and imports it again with
 * the same predictions, trains on a CSV file given to its file input, keeps its charts smooth at
 * 10,000 points a run; and examples/index.html trains a model in a few lines.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDemo } from '../../scripts/start.mjs';
import { CHROMIUM, serve } from './chromium.js';
import type { RunResult } from '../../demo/src/main.js';
import { blankCanvases, buildLab, longTasks, mean, openLab, ROOT, watchLongTasks } from './lab.js';

let browser: Browser;
let server: Awaited<ReturnType<typeof serveDemo>>;
let files: Awaited<ReturnType<typeof serve>>;
let tmp: string;

beforeAll(async () => {
  await buildLab();
  server = await serveDemo({ port: 0 });
  files = await serve(ROOT);
  // No --enable-unsafe-webgpu and no SwiftShader adapter: a headless browser without a GPU.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'] });
  tmp = mkdtempSync(join(tmpdir(), 'descent-lab-'));
  const session = await browser.target().createCDPSession();
  await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: tmp });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await files?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Clicks `button` and returns the path of the file it downloads (ending in `suffix`). */
async function downloaded(page: Page, button: string, suffix: string): Promise<string> {
  const before = new Set(readdirSync(tmp));
  await page.click(button);
  // Chromium may show the file's name before its bytes: wait for a size that holds still.
  let last = -1;
  for (let t = 0; t < 100; t++) {
    await new Promise((r) => setTimeout(r, 100));
    const file = readdirSync(tmp).find((f) => !before.has(f) && f.endsWith(suffix));
    if (!file) continue;
    const size = statSync(join(tmp, file)).size;
    if (size > 0 && size === last) return join(tmp, file);
    last = size;
  }
  throw new Error(`${button} downloaded no *${suffix} into ${tmp}`);
}

/** Gives `path` to the file input `input` and waits for the run it imports to end. */
async function imported(page: Page, path: string): Promise<RunResult> {
  const count = await page.evaluate(() => window.descentDemo.runs().length);
  await (await page.$('input#import-file'))!.uploadFile(path);
  await page.waitForFunction((n) => {
    const runs = window.descentDemo.runs();
    return runs.length > n && !['queued', 'training'].includes(runs[runs.length - 1]!.status);
  }, {}, count);
  return page.evaluate(() => window.descentDemo.runs().pop()!);
}

describe('without WebGPU', () => {
  it('the lab shows the banner and trains on the CPU backend, never blocking the page', async () => {
    const { page, errors } = await openLab(browser, server.url, '?preset=optimizers');
    expect(await page.evaluate(() => window.descentDemo.ready)).toBe('cpu');
    const banner = await page.$eval('#device', (e) => e.textContent!);
    expect(banner).toMatch(/^No WebGPU here, so the lab trains on the CPU backend/);
    // The worker's bundle carries the CPU backend's WebAssembly kernels, and they load.
    expect(banner).toContain('WebAssembly SIMD');
    await watchLongTasks(page);
    const run = await page.evaluate(() => window.descentDemo.run({ steps: 80, evalEvery: 40 }));
    expect(await longTasks(page)).toEqual([]);
    expect(run.error).toBeUndefined();
    expect(run.backend).toBe('cpu');
    expect(mean(run.losses.slice(-8))).toBeLessThan(0.9 * mean(run.losses.slice(0, 8)));
    expect(await blankCanvases(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a run\'s link reproduces its loss curve', async () => {
    const first = await openLab(browser, server.url, '?preset=clipping');
    const a = await first.page.evaluate(() => window.descentDemo.run({ steps: 40, seed: 5, lr: 0.5 }));
    const link = await first.page.evaluate(() => location.search);
    expect(link).toContain('seed=5');
    expect(link).toContain('lr=0.5');
    const runLink = await first.page.$eval('#runs li a', (e) => (e as HTMLAnchorElement).search);
    expect(runLink).toBe(link);
    expect(first.errors).toEqual([]);
    await first.page.close();

    const second = await openLab(browser, server.url, link);
    expect(await second.page.evaluate(() => window.descentDemo.settings())).toMatchObject({ seed: 5, lr: 0.5, steps: 40 });
    const b = await second.page.evaluate(() => window.descentDemo.run());
    expect(b.losses).toHaveLength(40);
    expect(b.losses).toEqual(a.losses);
    expect(second.errors).toEqual([]);
    await second.page.close();
  });

  it('exports weights and a checkpoint, and a fresh run that imports either predicts the same', async () => {
    const { page, errors } = await openLab(browser, server.url, '?preset=optimizers');
    const run = await page.evaluate(() => window.descentDemo.run({ steps: 30, evalEvery: 30 }));
    expect(run.status).toBe('done');
    const before = await page.evaluate((id) => window.descentDemo.predictions(id), run.id);
    expect(before).toHaveLength(400 * 2);

    const weights = await downloaded(page, '#export-weights', '.safetensors');
    expect(Array.from(readFileSync(weights))).toEqual(await page.evaluate(() => window.descentDemo.exportModel('weights')));
    const fromWeights = await imported(page, weights);
    expect(fromWeights.error).toBeUndefined();
    expect(fromWeights.name).toMatch(/^imported /);
    expect(fromWeights.losses).toEqual([]);
    expect(await page.evaluate((id) => window.descentDemo.predictions(id), fromWeights.id)).toEqual(before);
    expect(fromWeights.evals[0]!.testLoss).toBe(run.evals[run.evals.length - 1]!.testLoss);

    const checkpoint = await downloaded(page, '#export-checkpoint', '.checkpoint.safetensors');
    const fromCheckpoint = await imported(page, checkpoint);
    expect(fromCheckpoint.error).toBeUndefined();
    expect(await page.evaluate((id) => window.descentDemo.predictions(id), fromCheckpoint.id)).toEqual(before);

    // An untrained model of the same settings predicts otherwise: the import did the work.
    const fresh = await page.evaluate(() => window.descentDemo.run({ steps: 1 }));
    expect(await page.evaluate((id) => window.descentDemo.predictions(id), fresh.id)).not.toEqual(before);

    // Weights of another shape fail as a run with the reason, and the page says it.
    await page.evaluate(() => window.descentDemo.run({ steps: 1, width: 8 }));
    const wrong = await imported(page, weights);
    expect(wrong.status).toBe('failed');
    expect(wrong.error).toMatch(/^loadSafetensors: tensor '0\.0\.weight' has shape \[32, 2\], the model expects \[8, 2\]/);
    expect(await page.$eval('#error', (e) => (e as HTMLElement).hidden ? '' : e.textContent)).toContain('the model expects [8, 2]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('trains on a CSV file given to the file input, and names the line and column of a bad cell', async () => {
    const { page, errors } = await openLab(browser, server.url, '?preset=optimizers');
    // Two blobs in three features on different scales; the label, a name, in the middle column.
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const rows = ['width,height,label,depth'];
    for (let i = 0; i < 150; i++) {
      const c = i % 2;
      rows.push(`${(c * 2 + random()).toFixed(3)},${(500 + c * 300 + 200 * random()).toFixed(1)},${c ? 'tall' : 'short'},${(random() * 0.01).toFixed(5)}`);
    }
    const good = join(tmp, 'blobs.csv');
    writeFileSync(good, `${rows.join('\n')}\n`);
    await (await page.$('input#csv-file'))!.uploadFile(good);
    await page.waitForFunction(() => window.descentDemo.settings().dataset === 'csv');
    expect(await page.$eval('#csv-info', (e) => e.textContent)).toContain("blobs.csv, 150 rows of 3 features, 2 classes (label column 'label': short, tall)");
    const run = await page.evaluate(() => window.descentDemo.run({ steps: 40, evalEvery: 20 }));
    expect(run.error).toBeUndefined();
    expect(mean(run.losses.slice(-5))).toBeLessThan(0.5 * mean(run.losses.slice(0, 5)));
    expect(run.evals[run.evals.length - 1]!.testAccuracy).toBeGreaterThan(0.9);

    const bad = join(tmp, 'bad.csv');
    writeFileSync(bad, 'a,b,label\n1,2,x\n3,oops,y\n');
    await (await page.$('input#csv-file'))!.uploadFile(bad);
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#error')!.hidden);
    expect(await page.$eval('#error', (e) => e.textContent)).toBe("bad.csv: line 3, column 2 ('b'): 'oops' is not a number");
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the charts stay smooth with 10,000 points per run: every redraw task under 50 ms', async () => {
    const { page, errors } = await openLab(browser, server.url, '?preset=schedules');
    const start = await page.evaluate(() => performance.now());
    // Three runs of 10,000 steps each, streamed in 500 at a time as a long run's records come.
    await page.evaluate(async () => {
      for (let chunk = 0; chunk < 20; chunk++) {
        for (const [k, name] of ['a', 'b', 'c'].entries()) {
          const t = Array.from({ length: 500 }, (_, i) => chunk * 500 + i);
          window.descentDemo.feed(`long ${name}`, {
            loss: t.map((s) => (2 + k) * Math.exp(-s / 3000) + 0.05 * Math.abs(Math.sin(s * (k + 1)))),
            lr: t.map((s) => 0.1 * 0.5 * (1 + Math.cos((Math.PI * s) / 10_000))),
            gradNorm: t.map((s) => 1 + 0.5 * Math.abs(Math.sin(s / 7 + k))),
          });
        }
        await new Promise((r) => setTimeout(r, 60));
      }
    });
    const runs = await page.evaluate(() => window.descentDemo.runs());
    expect(runs.map((r) => r.losses.length)).toEqual([10_000, 10_000, 10_000]);
    expect(await blankCanvases(page)).toEqual([]);
    const times = (await page.evaluate(() => window.descentDemo.drawTimes())).filter((t) => t.start > start);
    // The charts were redrawn as the records came, the last time with all 30,000 points.
    expect(times.filter((t) => t.what === 'loss').length).toBeGreaterThan(3);
    expect(times.filter((t) => t.ms >= 50)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('examples/index.html trains a model in a few lines', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${files.url}/examples/index.html`);
    await page.waitForFunction('window.exampleResult !== undefined', { timeout: 120_000 });
    const result = await page.evaluate(() => (window as unknown as { exampleResult: { kind: string; losses: number[]; accuracy: number } }).exampleResult);
    expect(result.kind).toBe('cpu');
    expect(result.losses[result.losses.length - 1]!).toBeLessThan(0.6 * result.losses[0]!);
    expect(result.accuracy).toBeGreaterThan(0.8);
    expect(errors).toEqual([]);
    await page.close();
  });
});
