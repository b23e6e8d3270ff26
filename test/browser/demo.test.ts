import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, OPTIMIZERS, type OptimizerName, type OptionValues, type RunConfig, SCHEDULES, type ScheduleName } from '../../demo/src/config.js';
import { Run } from '../../demo/src/run.js';
import { buildDemo, serveDemo } from '../../scripts/start.mjs';
import { createDevice, data } from '../../src/index.js';
import { launchChromium } from './chromium.js';

let browser: Browser;
let server: Awaited<ReturnType<typeof serveDemo>>;

beforeAll(async () => {
  await buildDemo({ log: () => {} });
  server = await serveDemo({ port: 0 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens the lab and collects uncaught page errors and console errors. */
async function openLab(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1360, height: 1100 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(server.url);
  await page.waitForFunction('window.descentDemo !== undefined');
  return { page, errors };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('the demo page (npm start) in headless Chromium', () => {
  it('trains on the shipped MNIST digits with WebGPU, and the loss goes down', async () => {
    const { page, errors } = await openLab();
    expect(await page.evaluate(() => window.descentDemo.ready)).toBe('webgpu');
    expect(await page.$eval('#device', (e) => e.textContent)).toMatch(/^Training on WebGPU/);

    const summary = await page.evaluate(() =>
      window.descentDemo.run({
        dataset: 'mnist', hidden: [32], batchSize: 32, epochs: 1, maxSteps: 40,
        optimizer: 'Adam', optimizerOptions: { lr: 0.003 }, schedule: 'WarmupCosine', clipGradNorm: 5,
      }),
    );
    expect(summary.error).toBeUndefined();
    expect(summary.backend).toBe('webgpu');
    expect(summary.steps).toBe(40);
    expect(summary.losses.every(Number.isFinite)).toBe(true);
    // ln 10 ≈ 2.3 at the start; 40 Adam steps on 1,280 digits bring it well below.
    expect(mean(summary.losses.slice(0, 5))).toBeGreaterThan(1.8);
    expect(mean(summary.losses.slice(-5))).toBeLessThan(0.75 * mean(summary.losses.slice(0, 5)));
    // Held-out accuracy before training (epoch 0) and after the 40 steps, over 2,000 digits.
    expect(summary.accuracy).toHaveLength(2);
    expect(summary.accuracy[1]!).toBeGreaterThan(0.5);
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/stopped after 40 steps|done after 40 steps/);
    expect(await page.$eval('#error', (e) => (e as HTMLElement).hidden)).toBe(true);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: '/tmp/demo.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('trains a 2-D set from the form and the Start button, drawing the decision boundary', async () => {
    const { page, errors } = await openLab();
    await page.select('select[name="dataset"]', 'moons');
    await page.$eval('input[name="epochs"]', (e) => {
      (e as HTMLInputElement).value = '2';
    });
    await page.select('select[name="schedule"]', 'OneCycleLR');
    await page.click('#start');
    await page.waitForFunction(() => /^(done|stopped) after|failed/.test(document.getElementById('status')!.textContent ?? ''), {
      timeout: 120_000,
    });
    expect(await page.$eval('#error', (e) => [(e as HTMLElement).hidden, e.textContent])).toEqual([true, '']);
    expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/done after 50 steps/);
    // The boundary paints the plane in the two class tints: count distinct hues over the canvas.
    const tinted = await page.$eval('#predictions', (c) => {
      const canvas = c as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let blue = 0;
      let orange = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 2]! > data[i]! + 20) blue++;
        else if (data[i]! > data[i + 2]! + 20) orange++;
      }
      return { blue, orange, total: data.length / 4 };
    });
    expect(tinted.blue).toBeGreaterThan(0.2 * tinted.total);
    expect(tinted.orange).toBeGreaterThan(0.2 * tinted.total);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: '/tmp/demo-moons.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});

/** The defaults the form shows for a choice's options. */
function defaults(options: readonly { key: string; value: number | boolean }[]): OptionValues {
  return Object.fromEntries(options.map((o) => [o.key, o.value]));
}

/** The lab's run loop in Node on the CPU backend: 2 epochs of 25 steps on Gaussian blobs. */
async function runInNode(overrides: Partial<RunConfig>): Promise<Run> {
  const device = await createDevice({ backend: 'cpu' });
  const split = { train: data.gaussians({ n: 800, seed: 3 }), test: data.gaussians({ n: 400, seed: 4 }) };
  const config: RunConfig = {
    ...DEFAULT_CONFIG, dataset: 'gaussians', hidden: [16, 16], residual: true, batchSize: 32, epochs: 2,
    optimizerOptions: { ...defaults(OPTIMIZERS.Adam.options), lr: 0.01 }, scheduleOptions: {}, ...overrides,
  };
  const run = new Run(device, config, split);
  await run.train({ changed: () => {}, predictions: () => {}, status: () => {} });
  device.dispose();
  return run;
}

describe('every optimizer and schedule the form offers (run loop on the CPU backend)', () => {
  it.each(Object.keys(OPTIMIZERS) as OptimizerName[])('%s with its default options lowers the loss', async (name) => {
    // The defaults suit MNIST-sized models; Lion's 1e-4 would barely move in 50 steps.
    const options = { ...defaults(OPTIMIZERS[name].options), ...(name === 'Lion' ? { lr: 0.003 } : {}) };
    const run = await runInNode({ optimizer: name, optimizerOptions: options });
    const { loss, epochs } = run.metrics;
    expect(loss).toHaveLength(50);
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(mean(loss.slice(-10))).toBeLessThan(mean(loss.slice(0, 10)));
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
  });

  it('trains with dropout, clipping and penalties together', async () => {
    const run = await runInNode({ dropout: 0.2, clipGradValue: 0.5, l1: 1e-4, l2: 1e-3 });
    const { loss, epochs } = run.metrics;
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(mean(loss.slice(-10))).toBeLessThan(mean(loss.slice(0, 10)));
    expect(epochs[2]!.accuracy).toBeGreaterThan(epochs[0]!.accuracy);
    expect(run.model.layers.map((m) => m.describe())).toEqual(['Linear(2, 16)', 'ReLU', 'Dropout(p=0.2)', 'Residual', 'Linear(16, 4)']);
  });

  it.each(Object.keys(SCHEDULES) as ScheduleName[])('%s: each step uses the rate the picture plans', async (name) => {
    const run = await runInNode({ schedule: name, scheduleOptions: defaults(SCHEDULES[name].options) });
    const { lr, plannedLr, gradNorm } = run.metrics;
    expect(lr).toHaveLength(50);
    if (name === 'BoldDriver') {
      expect(plannedLr).toBeNull();
      expect(new Set(lr).size).toBeGreaterThan(1);
    } else if (name === 'GradientNormLR') {
      expect(plannedLr).toBeNull();
      lr.forEach((rate, t) => expect(rate).toBeCloseTo(0.01 / gradNorm[t]!, 6));
    } else {
      expect(plannedLr).toHaveLength(50);
      lr.forEach((rate, t) => expect(Math.abs(rate - plannedLr![t]!)).toBeLessThanOrEqual(1e-12 + 1e-9 * plannedLr![t]!));
    }
    if (name === 'WarmupCosine') expect(plannedLr![0]).toBeCloseTo(0.001, 12);
    if (name === 'none') expect(new Set(lr)).toEqual(new Set([0.01]));
  });
});
