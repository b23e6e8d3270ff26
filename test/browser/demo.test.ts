/**
 * The lab (npm start) in headless Chromium with WebGPU on SwiftShader: each preset's link loads
 * without console errors; then, in one page (SwiftShader compiles each kernel once per device,
 * which costs more than the training), each preset trains a short run whose loss falls, with no
 * main-thread task over 50 ms, and draws every chart; the vanishing preset's heatmap data; the
 * range test; export and import; the clipping preset's explosion. Screenshots of each preset go
 * to test/browser/screenshots/ (git-ignored).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESET_IDS, PRESETS, type Settings } from '../../demo/src/settings.js';
import { serveDemo } from '../../scripts/start.mjs';
import { launchChromium } from './chromium.js';
import { blankCanvases, buildLab, type Lab, longTasks, mean, openLab, SCREENSHOTS, watchLongTasks } from './lab.js';

let browser: Browser;
let server: Awaited<ReturnType<typeof serveDemo>>;

beforeAll(async () => {
  await buildLab();
  server = await serveDemo({ port: 0 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A short run of each preset: small enough for SwiftShader, long enough for the loss to fall. */
const SHORT: Record<string, Partial<Settings>> = {
  schedules: { steps: 40, evalEvery: 40 },
  vanishing: { steps: 30, layerEvery: 5, evalEvery: 30, residual: true, norm: 'batch' },
  optimizers: { steps: 40, evalEvery: 40 },
  regularization: { steps: 50, evalEvery: 25 },
  clipping: { steps: 60, evalEvery: 30, clipGradNorm: 1 },
  mnist: { steps: 50, evalEvery: 50, width: 32 },
};

describe('the lab in headless Chromium (WebGPU)', () => {
  it('each preset\'s link loads cleanly: its text, its panels, every chart drawn', async () => {
    for (const id of PRESET_IDS) {
      const { page, errors } = await openLab(browser, server.url, `?preset=${id}`);
      expect(await page.evaluate(() => window.descentDemo.ready)).toBe('webgpu');
      expect(await page.$eval('#preset-explain', (e) => e.textContent!.length)).toBeGreaterThan(80);
      expect(await page.evaluate(() => window.descentDemo.settings())).toMatchObject(PRESETS[id].settings);
      const panels = await page.$$eval('[data-for]', (els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => (e as HTMLElement).dataset.for!));
      expect(panels.every((p) => p.split(' ').includes(id))).toBe(true);
      expect(await blankCanvases(page)).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  let lab: Lab;
  for (const id of PRESET_IDS) {
    it(`${id}: trains with the page thread free, the loss falls, every chart is drawn`, async () => {
      lab ??= await openLab(browser, server.url);
      const { page, errors } = lab;
      await page.evaluate((i) => window.descentDemo.loadPreset(i), id);
      expect(await page.evaluate(() => window.descentDemo.ready)).toBe('webgpu');
      // The preset's panels are drawn (as after a click on its link); then training starts.
      await page.evaluate(() => window.descentDemo.drawn());
      await watchLongTasks(page);
      // 20 sigmoid layers without help: the first layer's gradient is orders of magnitude below
      // the output layer's. (Rows are the Linear weights, first to last.)
      const spread = (g: number[]) => g[g.length - 1]! / g[0]!;
      if (id === 'vanishing') {
        const plain = await page.evaluate(() => window.descentDemo.run({ steps: 10, layerEvery: 5 }, 'plain'));
        expect(plain.layers.names).toHaveLength(21);
        expect(plain.layers.steps).toEqual([0, 5]);
        for (const g of plain.layers.gradNorm) expect(spread(g)).toBeGreaterThan(1e3);
      }
      const run = await page.evaluate((change) => window.descentDemo.run(change), SHORT[id]!);
      expect(await longTasks(page)).toEqual([]);
      expect(run.error).toBeUndefined();
      expect(run.backend).toBe('webgpu');
      expect(run.losses).toHaveLength(SHORT[id]!.steps!);
      expect(run.losses.every(Number.isFinite)).toBe(true);
      expect(mean(run.losses.slice(-8))).toBeLessThan(0.9 * mean(run.losses.slice(0, 8)));
      if (id === 'vanishing') {
        // With Residual + BatchNorm they stay within two orders of magnitude.
        expect(run.layers.names).toHaveLength(21);
        for (const g of run.layers.gradNorm) expect(spread(g)).toBeLessThan(1e2);
      }
      if (id === 'optimizers') {
        // Export then import on WebGPU: a fresh run of the same settings that loads the weights
        // predicts what the trained one does.
        const bytes = await page.evaluate(() => window.descentDemo.exportModel('weights'));
        const file = join(tmpdir(), `descent-lab-${process.pid}.safetensors`);
        writeFileSync(file, Uint8Array.from(bytes));
        await (await page.$('input#import-file'))!.uploadFile(file);
        await page.waitForFunction(() => window.descentDemo.runs().some((r) => r.name.startsWith('imported') && r.status !== 'queued' && r.status !== 'training'));
        rmSync(file);
        const loaded = (await page.evaluate(() => window.descentDemo.runs())).find((r) => r.name.startsWith('imported'))!;
        expect(loaded.error).toBeUndefined();
        const predictions = (runId: number) => page.evaluate((i) => window.descentDemo.predictions(i), runId);
        expect(await predictions(loaded.id)).toEqual(await predictions(run.id));
      }
      if (id === 'clipping') {
        // The same run without clipping explodes: its gradient norm and loss grow more than
        // tenfold (or turn non-finite), while the clipped run's stay finite and small.
        const wild = await page.evaluate(() => window.descentDemo.run({ clipGradNorm: 0, steps: 30 }, 'no clipping'));
        const grew = (v: number[]) => v.some((x) => !Number.isFinite(x)) || Math.max(...v) > 10 * v[0]!;
        expect(grew(wild.gradNorms)).toBe(true);
        expect(grew(wild.losses)).toBe(true);
        expect(run.gradNorms.every(Number.isFinite)).toBe(true);
        expect(Math.max(...run.gradNorms)).toBeLessThan(3 * run.gradNorms[0]! + 2);
        expect(Math.max(...run.losses)).toBeLessThan(2 * run.losses[0]!);
      }
      if (id === 'schedules') {
        const found = await page.evaluate(() => window.descentDemo.findLr());
        expect(found.lrs.length).toBeGreaterThan(10);
        expect(found.suggestion).not.toBeNull();
      }
      if (id === 'mnist') {
        expect(run.confusion).toHaveLength(100);
        expect(run.evals[run.evals.length - 1]!.testAccuracy).toBeGreaterThan(0.5);
        // Draw a "1": a vertical stroke on the pad, then the model's ten probabilities appear.
        const pad = (await page.$('#draw'))!;
        await pad.scrollIntoView();
        const box = (await pad.boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + 30);
        await page.mouse.down();
        for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width / 2, box.y + 30 + k * 14);
        await page.mouse.up();
        await page.waitForFunction(() => document.querySelectorAll('#probabilities .prob').length === 10);
      }
      expect(await blankCanvases(page)).toEqual([]);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(SCREENSHOTS, `${id}.png`), fullPage: true });
      expect(errors).toEqual([]);
    });
  }

  afterAll(async () => {
    await lab?.page.close();
  });
});
